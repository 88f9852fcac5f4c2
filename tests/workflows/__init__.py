"""Tests of the shipped procedure library."""
