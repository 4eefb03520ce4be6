// The LearningML module. See README.md, "Layout".
