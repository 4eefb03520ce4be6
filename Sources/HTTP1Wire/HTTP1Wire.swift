// The HTTP1Wire module. See README.md, "Layout".
