"""What the tests share: local servers, the networks' stand-ins, projects and the CLI."""
