"""Test-suite-wide plugins: pytester runs the documented examples as a user's suite would."""

pytest_plugins = ["pytester"]
