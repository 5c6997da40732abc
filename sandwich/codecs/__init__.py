"""Standard codecs behind the Method contract (domain = the codec's native sample format)."""
