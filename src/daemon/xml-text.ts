/**
 * Text for XML 1.0 documents. XML 1.0 cannot carry most C0 control characters
 * (even as character references), lone surrogates, U+FFFE or U+FFFF, and board
 * consoles are full of them (ANSI colour escapes, NULs, backspaces). They become a
 * visible `\xNN` / `\uNNNN` so the report stays valid and the reader still sees
 * what the board sent.
 */

// Everything XML 1.0 forbids: C0 controls except tab, LF, CR; lone surrogates; U+FFFE, U+FFFF.
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|[\uFFFE\uFFFF]/g;

function visible(character: string): string {
  const code = character.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).toUpperCase().padStart(2, '0')}` : `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Replaces characters XML 1.0 cannot hold with a visible escape. */
export function xmlSafe(text: string): string {
  return text.replace(NOT_XML_CHAR, visible);
}

/** Element content. CR is a reference so parsers do not fold it into LF. */
export function xmlText(text: string): string {
  return xmlSafe(text).replace(/[&<>\r]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#13;'));
}

/** Attribute values in double quotes; tab, LF and CR as references so attribute normalisation keeps them. */
export function xmlAttribute(text: string): string {
  return xmlSafe(text).replace(/[&<>"\t\n\r]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      case '\t':
        return '&#9;';
      case '\n':
        return '&#10;';
      default:
        return '&#13;';
    }
  });
}
