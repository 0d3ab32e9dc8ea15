"""The HTTP edge: the aiohttp application, JSON API, pages and static assets."""
