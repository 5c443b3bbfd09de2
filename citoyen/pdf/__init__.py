"""PDF documents for families (reportlab): French, real text, small."""

from reportlab import rl_config

# Compressed streams stay binary: smaller files, and no ASCII85 pass on each page.
rl_config.useA85 = 0
