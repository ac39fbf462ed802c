"""Padding and mask utilities (pad_sequences, pad_ragged, mask_from_lengths, lengths_from_mask)."""
