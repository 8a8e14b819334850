"""Code that runs inside the api-server's processes (the image ships it, local mode imports it from here)."""
