<?php
// php-fpm hello world for bench/run-fastcgi.mjs: the same reply as the other servers.
header("Content-Type: text/plain");
echo "Hello, World!\n";
