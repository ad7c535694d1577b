"""RabbitMQ transport for Cumulo's messaging (``[messaging] transport_url = rabbit://...``)."""
