"""The swagger cell parser: an OpenAPI document first, `# operationId: x` annotations."""
