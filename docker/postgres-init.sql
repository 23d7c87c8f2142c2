-- listmonk keeps its subscribers and campaigns in a database of its own, on the same server.
CREATE DATABASE listmonk OWNER dispatch;
