"""Request handlers, one module per resource: ``async def handler(ctx, request, call)``."""
