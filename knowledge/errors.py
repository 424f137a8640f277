"""Errors raised by the knowledge base; chromadb, torch and the loaders' exceptions never leave this package.

KnowledgeError                 base of everything below
├── DocumentError              one file cannot be ingested; the others go on and the index is untouched
│   ├── UnsupportedFormat      the extension is not one we read, or the content is not what it claims
│   ├── EmptyDocument          no text at all (an empty file, a scanned PDF without a text layer)
│   ├── CorruptDocument        the file is damaged or cannot be parsed by its format's library
│   ├── UnreadableEncoding     text that is neither UTF-8 nor UTF-16
│   └── DocumentTooLarge       larger than the configured limit
├── ModelUnavailable           the embedding model cannot be loaded from its installed package
└── IndexUnavailable           the knowledge store cannot be opened or written
"""

from __future__ import annotations


class KnowledgeError(Exception):
    """Base of the knowledge base's errors; the message tells a person what to do."""


class DocumentError(KnowledgeError):
    """One document cannot be ingested."""


class UnsupportedFormat(DocumentError):
    """The file's extension or content is not a format we read."""


class EmptyDocument(DocumentError):
    """The file holds no text to index."""


class CorruptDocument(DocumentError):
    """The file is damaged or not parseable."""


class UnreadableEncoding(DocumentError):
    """The text is in an encoding we do not read."""


class DocumentTooLarge(DocumentError):
    """The file is over the size limit."""


class ModelUnavailable(KnowledgeError):
    """The embedding model is not installed or cannot be loaded."""


class IndexUnavailable(KnowledgeError):
    """The knowledge store on disk cannot be opened or changed."""
