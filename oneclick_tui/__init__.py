"""OneClick: a terminal console for copy trading on Aptos."""

__version__ = "0.1.0"
