"""Shared test configuration. Fixture plugins live in tests/plugins/*.py and load here."""

import pkgutil

import tests.plugins

pytest_plugins = [f"tests.plugins.{m.name}" for m in pkgutil.iter_modules(tests.plugins.__path__)]
