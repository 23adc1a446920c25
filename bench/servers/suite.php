<?php
// The suite's app (bench/servers/suite-app.mjs) for php-fpm: the same routes and bytes.
$uri = $_SERVER['REQUEST_URI'] ?? '/';
header('Content-Type: text/plain');
if ($uri === '/') {
    echo "Hello, World!\n";
} elseif ($uri === '/16k') {
    echo str_repeat('x', 16384);
} elseif ($uri === '/1m') {
    echo str_repeat('x', 1048576);
} elseif ($uri === '/echo') {
    echo strlen(file_get_contents('php://input'));
} elseif (strncmp($uri, '/api/users/', 11) === 0) {
    $id = (int) substr($uri, 11);
    header('Content-Type: application/json');
    echo json_encode(['id' => $id, 'name' => "User $id", 'email' => "user$id@example.com", 'roles' => ['admin', 'dev'], 'active' => true]);
} else {
    http_response_code(404);
    echo "not found\n";
}
