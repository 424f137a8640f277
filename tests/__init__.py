"""Tests for the line-side co-pilot; they mirror the package layout."""
