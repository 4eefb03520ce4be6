// The LearningRPC module. See README.md, "Layout".
