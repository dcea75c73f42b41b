//! Shared text handling for the parsers: encoding detection, header normalisation, trimming.
