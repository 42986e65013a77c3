"""The screening engine: everything from a file on disk to a graded result. Imports no Qt."""
