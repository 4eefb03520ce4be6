// The LearningREST module. See README.md, "Layout".
