// The LearningService module. See README.md, "Layout".
