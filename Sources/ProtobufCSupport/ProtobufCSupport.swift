// The ProtobufCSupport module. See README.md, "Layout".
