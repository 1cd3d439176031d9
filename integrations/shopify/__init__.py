"""Shopify, connected: product webhooks keep a merchant's catalog in step with their shop.

``connections`` stores a shop's domain and webhook secret and says where to register;
``signatures`` checks a delivery's HMAC; ``products`` turns a product payload into the records
the catalog import takes; ``webhooks`` records a delivery and applies it in a worker; ``views``
is the endpoint Shopify posts to.
"""
