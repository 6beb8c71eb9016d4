"""storegateway"""
