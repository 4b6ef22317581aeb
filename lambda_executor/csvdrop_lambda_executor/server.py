"""``GATEWAY_SERVER=csvdrop-twisted``: LocalStack's Twisted server, bound to the host GATEWAY_LISTEN names.

LocalStack's own ``twisted`` server listens on every interface whatever GATEWAY_LISTEN says (its IPv4 endpoint is
created without an interface), so a stack meant for this machine would be reachable from the network.
``hypercorn`` honours the host but costs LocalStack about twice the CPU per request (S3 GetObject of 100 KB:
7.3 ms against 3.0 ms; a whole file through the pipeline: 60 ms against 44 ms), and LocalStack's CPU is what
limits the pipeline's throughput on a small machine.
"""

from __future__ import annotations

from localstack.runtime.server.core import RuntimeServer, RuntimeServerPlugin


class LoopbackTwistedServerPlugin(RuntimeServerPlugin):
    name = "csvdrop-twisted"

    def load(self, *args, **kwargs) -> RuntimeServer:
        from localstack import config
        from localstack.aws.serving.twisted import TLSMultiplexerFactory
        from localstack.runtime.server.twisted import TwistedRuntimeServer
        from rolo.serving.twisted import TwistedGateway
        from twisted.internet import endpoints, reactor, ssl

        class BoundTwistedRuntimeServer(TwistedRuntimeServer):
            """LocalStack's ``register``, with the interface passed for IPv4 as it is for IPv6."""

            def register(self, gateway, listen: list[config.HostAndPort], ssl_creds=None) -> None:
                site = TwistedGateway(gateway)
                factory = site
                if ssl_creds:  # HTTP and HTTPS on one port, as LocalStack serves them
                    cert_file_name, key_file_name = ssl_creds
                    context_factory = ssl.DefaultOpenSSLContextFactory(key_file_name, cert_file_name)
                    context_factory.getContext().use_certificate_chain_file(cert_file_name)
                    factory = TLSMultiplexerFactory(context_factory, False, site)
                for host_and_port in listen:
                    endpoint_type = (
                        endpoints.TCP6ServerEndpoint
                        if config.is_ipv6_address(host_and_port.host)
                        else endpoints.TCP4ServerEndpoint
                    )
                    endpoint_type(reactor, host_and_port.port, interface=host_and_port.host).listen(factory)

        return BoundTwistedRuntimeServer()
