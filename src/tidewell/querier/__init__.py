"""querier"""
