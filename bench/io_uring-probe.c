// What a syscall costs on this machine, and what batching them in io_uring
// saves: N non-blocking sendmsg + read pairs on unix socketpairs, done as
// syscalls and then as SQEs submitted with one io_uring_enter per kind; and
// whether a recv with MSG_DONTWAIT completes inline with -EAGAIN (it must, for
// io_uring to stand in for non-blocking calls without changing their meaning).
//
//   apt-get install -y liburing-dev
//   gcc -O2 bench/io_uring-probe.c -o /tmp/io_uring-probe -luring
//   taskset -c 0 /tmp/io_uring-probe
//
// Not part of the build: a probe for docs/design.md's "Where to go next".
#include <liburing.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#define N 32
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e9+t.tv_nsec;}
int main(){
  int sv[N][2]; char buf[100]; memset(buf,'x',100); char rb[4096];
  for(int i=0;i<N;i++){socketpair(AF_UNIX,SOCK_STREAM,0,sv[i]);fcntl(sv[i][0],F_SETFL,O_NONBLOCK);fcntl(sv[i][1],F_SETFL,O_NONBLOCK);}
  int iters=20000;
  double s0=now(); for(int i=0;i<1000000;i++) syscall(SYS_getppid); double s1=now();
  printf("null syscall: %.3f us\n",(s1-s0)/1e3/1e6);
  struct iovec iov={buf,100}; struct msghdr mh={0}; mh.msg_iov=&iov; mh.msg_iovlen=1;
  double t0=now();
  for(int k=0;k<iters;k++){ for(int i=0;i<N;i++) sendmsg(sv[i][0],&mh,MSG_NOSIGNAL); for(int i=0;i<N;i++) read(sv[i][1],rb,sizeof rb);}
  double t1=now();
  printf("syscalls: %.3f us per send+read pair\n",(t1-t0)/1e3/iters/N);
  struct io_uring ring; int rc=io_uring_queue_init(256,&ring,0); if(rc){printf("init %d\n",rc);return 1;}
  t0=now();
  for(int k=0;k<iters;k++){
    for(int i=0;i<N;i++){struct io_uring_sqe*s=io_uring_get_sqe(&ring);io_uring_prep_sendmsg(s,sv[i][0],&mh,MSG_NOSIGNAL);s->user_data=i;}
    io_uring_submit_and_wait(&ring,N);
    struct io_uring_cqe*c; unsigned head; int cnt=0; io_uring_for_each_cqe(&ring,head,c){ if(c->res!=100 && k==0) printf("res %d\n",c->res); cnt++;} io_uring_cq_advance(&ring,cnt);
    for(int i=0;i<N;i++){struct io_uring_sqe*s=io_uring_get_sqe(&ring);io_uring_prep_read(s,sv[i][1],rb,sizeof rb,0);s->user_data=i;}
    io_uring_submit_and_wait(&ring,N);
    cnt=0; io_uring_for_each_cqe(&ring,head,c){ if(c->res!=100 && k==0) printf("rres %d\n",c->res); cnt++;} io_uring_cq_advance(&ring,cnt);
  }
  t1=now();
  printf("io_uring batch of %d: %.3f us per send+read pair\n",N,(t1-t0)/1e3/iters/N);
  // A recv with MSG_DONTWAIT on an empty socket: -EAGAIN at once (a plain
  // read would arm a poll and wait).
  struct io_uring_sqe*s=io_uring_get_sqe(&ring);io_uring_prep_recv(s,sv[0][1],rb,sizeof rb,MSG_DONTWAIT);io_uring_submit(&ring);
  struct io_uring_cqe*c; struct __kernel_timespec ts={0,100000000}; rc=io_uring_wait_cqe_timeout(&ring,&c,&ts);
  printf("recv MSG_DONTWAIT on an empty socket: %s %d\n", rc==0?"completed,":"timed out", rc==0?c->res:rc);
  return 0;}
