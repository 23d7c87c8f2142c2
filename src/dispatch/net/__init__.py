"""The network: which addresses dispatch may reach, and the HTTP client outputs use."""
