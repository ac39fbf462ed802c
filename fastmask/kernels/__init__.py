"""Kernels as plain functions: validated NumPy in, NumPy out, no Layer API needed."""
from .masking import masking, masking_mask, embedding
