//! Parser for the `antom` layout (alipay-files.md).

use super::{ParseContext, ParseError, ParsedFile};

pub fn parse(_bytes: &[u8], ctx: &ParseContext) -> Result<ParsedFile, ParseError> {
    Err(ParseError { file: ctx.file_name.clone(), message: "the antom parser is not written yet".into() })
}
