"""The default cell parser: `# METHOD /path` annotations."""
