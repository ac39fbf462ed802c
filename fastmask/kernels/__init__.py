"""Kernels as plain functions: validated NumPy in, NumPy out, no Layer API needed."""
