"""Keras's argument checks for window layers (keras/src/utils/argument_validation.py).

`standardize_tuple(5, 1, "kernel_size")` -> `(5,)`; `standardize_padding("SAME")`
-> `"same"`. Errors are Keras's, word for word, so that ported Keras tests
match them.
"""

__all__ = ["standardize_tuple", "standardize_padding"]


def standardize_tuple(value, n, name, allow_zero=False):
    """A tuple of `n` ints from an int or an iterable of `n` ints (> 0, or >= 0 if allowed)."""
    error_msg = (f"The `{name}` argument must be a tuple of {n} integers. "
                 f"Received {name}={value}")
    if isinstance(value, int):
        value_tuple = (value,) * n
    else:
        try:
            value_tuple = tuple(value)
        except TypeError:
            raise ValueError(error_msg) from None
        if len(value_tuple) != n:
            raise ValueError(error_msg)
        for single_value in value_tuple:
            try:
                int(single_value)
            except (ValueError, TypeError):
                error_msg += (f"including element {single_value} of "
                              f"type {type(single_value)}")
                raise ValueError(error_msg) from None
    if allow_zero:
        unqualified_values = {v for v in value_tuple if v < 0}
        req_msg = ">= 0"
    else:
        unqualified_values = {v for v in value_tuple if v <= 0}
        req_msg = "> 0"
    if unqualified_values:
        error_msg += (f", including values {unqualified_values}"
                      f" that do not satisfy `value {req_msg}`")
        raise ValueError(error_msg)
    return value_tuple


def standardize_padding(value, allow_causal=False):
    """`"valid"`/`"same"` (and `"causal"` if allowed), lower-cased; lists pass unchanged."""
    if isinstance(value, (list, tuple)):
        return value
    if not isinstance(value, str):
        raise ValueError("The `padding` argument must be a list/tuple or one of "
                         f"{{'valid', 'same'{', ' + repr('causal') if allow_causal else ''}}}. "
                         f"Received: padding={value!r}")
    padding = value.lower()
    allowed_values = {"valid", "same", "causal"} if allow_causal else {"valid", "same"}
    if padding not in allowed_values:
        raise ValueError("The `padding` argument must be a list/tuple or one of "
                         f"{allowed_values}. Received: {padding}")
    return padding
