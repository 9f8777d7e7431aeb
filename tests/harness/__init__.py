"""What the tests drive real services with, beyond what the package ships."""
