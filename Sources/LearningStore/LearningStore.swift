// The LearningStore module. See README.md, "Layout".
