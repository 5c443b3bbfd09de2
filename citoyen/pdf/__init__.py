"""PDF documents for families (reportlab): French, real text, small."""
