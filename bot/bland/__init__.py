"""The Bland AI API: typed client, lenient models, errors and webhook signatures."""
