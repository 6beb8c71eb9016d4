"""ingester"""
