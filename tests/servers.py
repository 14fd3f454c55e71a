"""The real TLS servers NHS suppliers run, on 127.0.0.1 free ports, started and stopped by a test.

:func:`nginx_server`, :func:`apache_server`, :func:`tomcat_server`, :func:`haproxy_server` and
:func:`openssl_s_server` are context managers. Each writes its server's configuration into a
fresh directory under the one it is given (the caller's directives or connector inside a
fixed wrapper), starts the server in its own process group, waits until that process listens
on the port and a connection succeeds, yields a :class:`RunningServer`, and always stops the
whole process group on exit, even when the test fails. A server that does not come up raises
:class:`ServerStartError` with its logs in the message; one that lost its free port to another
process (EADDRINUSE) is restarted on a new port. :func:`curl` asks one for a page as a client.

How each refuses an untrusted client certificate differs, and tests/test_servers.py records
it: nginx completes the handshake and answers HTTP 400; Apache, HAProxy, Tomcat and s_server
(with ``-verify_return_error``) end the TLS connection with an alert.

The servers run as root here; nginx and Apache workers drop to ``www-data``.
:func:`write_server_files` writes the test PKI's server certificate, key and CA files with
permissions that work for that.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal
from xml.sax.saxutils import quoteattr

import attrs
from cryptography.hazmat.primitives import serialization

from tests.commands import assert_marked_slow

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from cryptography import x509

    from tests.pki import GeneratedPki

HOST = "127.0.0.1"
#: The name the test PKI's server certificate carries; clients connect to it, resolved to HOST.
SERVER_NAME = "localhost"
NGINX = "/usr/sbin/nginx"
APACHE = "/usr/sbin/apache2"
APACHE_MODULES = Path("/usr/lib/apache2/modules")
CATALINA_HOME = Path("/usr/share/tomcat10")
HAPROXY = "/usr/sbin/haproxy"
JAVA = "java"
OPENSSL = "openssl"
CURL = "/usr/bin/curl"
#: Debian's node exporter (package prometheus-node-exporter), for its textfile collector.
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
#: How long a server has to open its port; nginx and s_server need well under a second.
_READY_SECONDS = 10.0
_STOP_SECONDS = 10.0
_PORT_ATTEMPTS = 4
_ADDRESS_IN_USE = re.compile(r"address already in use", re.IGNORECASE)


class ServerStartError(RuntimeError):
    """A server did not start; the message carries its command's outcome and its logs."""


@attrs.frozen
class RunningServer:
    """A server that accepts connections on ``host``:``port``.

    Attributes:
        host: The address it listens on (always 127.0.0.1).
        port: The port it listens on.
        logs: The files it logs to (error log first), for assertions and failure messages.
        directory: Its own directory (configuration, pid file, logs).
        server_name: The name its certificate carries; :meth:`url` uses it.
        secrets: Passwords in its configuration, blanked out by :meth:`read_logs`.
    """

    host: str
    port: int
    logs: tuple[Path, ...]
    directory: Path
    server_name: str = SERVER_NAME
    secrets: tuple[str, ...] = attrs.field(default=(), repr=False)

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) pair, as tests/tls.py's servers yield it."""
        return (self.host, self.port)

    def url(self, path: str = "/") -> str:
        """An https URL on the certificate's name; resolve that name to :attr:`host` (curl --resolve)."""
        return f"https://{self.server_name}:{self.port}{path}"

    def read_logs(self) -> str:
        """Every log file's text, each under a header naming the file, passwords blanked out."""
        return _redact(_read_logs(self.logs), self.secrets)


@attrs.frozen
class ServerFiles:
    """The server's certificate chain, key and the CA that issued it, written as PEM files.

    Attributes:
        cert: The server certificate alone.
        chain: The server certificate then its intermediate (what nginx and Apache serve).
        key: The server's private key (0600: the servers read it as root before dropping).
        ca: The CA a client trusts to verify the server (the G2-like root then intermediate).
        chain_and_key: The chain then the key in one file (0600), as HAProxy's ``crt`` takes it.
    """

    cert: Path
    chain: Path
    key: Path
    ca: Path
    chain_and_key: Path


def write_server_files(pki: GeneratedPki, directory: Path) -> ServerFiles:
    """Write the test PKI's localhost server certificate, chain, key and CA file into ``directory``.

    Certificates are 0644 so a server's unprivileged workers could read them; the key files are
    0600, which nginx, Apache and HAProxy read as root before any drop to ``www-data``.
    """
    directory.mkdir(parents=True, exist_ok=True)

    def pem(*certificates: x509.Certificate) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)

    files = ServerFiles(
        cert=directory / "server-cert.pem",
        chain=directory / "server-chain.pem",
        key=directory / "server-key.pem",
        ca=directory / "server-ca.pem",
        chain_and_key=directory / "server-chain-and-key.pem",
    )
    files.cert.write_bytes(pki.server.cert_pem())
    files.chain.write_bytes(pem(pki.server.certificate, pki.g2.intermediate.certificate))
    files.ca.write_bytes(pem(pki.g2.root.certificate, pki.g2.intermediate.certificate))
    files.key.write_bytes(pki.server.key_pem())
    files.chain_and_key.write_bytes(files.chain.read_bytes() + pki.server.key_pem())
    for path in (files.cert, files.chain, files.ca):
        path.chmod(0o644)
    for path in (files.key, files.chain_and_key):
        path.chmod(0o600)
    return files


def free_port() -> int:
    """A loopback port nothing listens on right now (another process may take it: launchers retry)."""
    with socket.create_server((HOST, 0)) as probe:
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def nginx_server(
    directory: Path,
    server_directives: str,
    *,
    http_directives: str = "",
) -> Iterator[RunningServer]:
    """Run nginx with one ``server { listen 127.0.0.1:<port> ssl; ... }`` around the given directives.

    The caller's directives hold the TLS configuration (``ssl_certificate``,
    ``ssl_certificate_key``, ``ssl_verify_client``, ``ssl_client_certificate``, ...), exactly as
    a docs page gives them with the paths filled in. nginx's own ``location /`` answers 200 with
    ``ok`` unless the caller's directives add another ``location /``. Pid file, logs and temp
    paths stay in the server's directory: nothing goes to /var/log or /run.

    With ``ssl_verify_client on`` nginx completes the TLS handshake even for a client whose
    certificate it rejects, then answers ``400 Bad Request`` ("The SSL certificate error"), and
    its error log names the reason ("client SSL certificate verify error: ...").

    Args:
        directory: Where the server's own directory is created.
        server_directives: The body of the ``server`` block (the ``listen`` line is added).
        http_directives: Extra directives for the ``http`` block (rarely needed).

    Yields:
        The running server; stopped (its process group) when the block exits.

    Raises:
        ServerStartError: nginx exited or did not open its port within the wait; the message
            holds its error log.
    """
    home = Path(tempfile.mkdtemp(prefix="nginx-", dir=directory))
    error_log = home / "error.log"
    access_log = home / "access.log"
    conf = home / "nginx.conf"
    user = "user www-data;" if os.geteuid() == 0 else ""
    has_root_location = re.search(r"location\s+/\s*\{", server_directives) is not None
    default_location = "" if has_root_location else 'location / { return 200 "ok\\n"; }'

    def configure(port: int) -> list[str]:
        conf.write_text(
            f"""{user}
worker_processes 1;
pid {home}/nginx.pid;
error_log {error_log} info;
events {{ worker_connections 64; }}
http {{
    access_log {access_log};
    client_body_temp_path {home}/client_body;
    proxy_temp_path {home}/proxy;
    fastcgi_temp_path {home}/fastcgi;
    uwsgi_temp_path {home}/uwsgi;
    scgi_temp_path {home}/scgi;
    default_type text/plain;
    {http_directives}
    server {{
        listen {HOST}:{port} ssl;
        server_name {SERVER_NAME};
        {server_directives}
        {default_location}
    }}
}}
""",
            encoding="utf-8",
        )
        return [NGINX, "-p", str(home), "-c", str(conf), "-g", "daemon off;"]

    with _serving(
        "nginx", home, configure, logs=(error_log, access_log, home / "stdout.log")
    ) as server:
        yield server


@contextlib.contextmanager
def openssl_s_server(
    directory: Path,
    *,
    cert: Path,
    key: Path,
    ca_file: Path | None = None,
    cert_chain: Path | None = None,
    options: Sequence[str] = (),
    www: bool = True,
    verify_return_error: bool = True,
) -> Iterator[RunningServer]:
    """Run ``openssl s_server -accept 127.0.0.1:<port>`` with the given files and options.

    Args:
        directory: Where the server's own directory (its output log) is created.
        cert: The server certificate (``-cert``; s_server serves only the first one in it).
        key: Its private key (``-key``).
        ca_file: The CAs that verify client certificates (``-CAfile``), if any.
        cert_chain: Intermediates to send after ``cert`` (``-cert_chain``), if any.
        options: Passed through as they are: ``("-Verify", "2")`` requires a client
            certificate, ``("-verify", "2")`` asks for one; ``-client_sigalgs``, ``-tls1_2``,
            ``-tls1_3`` and the rest likewise.
        www: Add ``-www`` (answer each GET with a 200 status page).
        verify_return_error: Add ``-verify_return_error``. Without it s_server logs a client
            chain that fails verification and carries on: ``-Verify 2`` alone accepts a
            foreign client certificate.

    Yields:
        The running server; stopped when the block exits.

    Raises:
        ServerStartError: s_server exited or did not open its port; the message holds its output.
    """
    home = Path(tempfile.mkdtemp(prefix="s_server-", dir=directory))

    def command(port: int) -> list[str]:
        args = [OPENSSL, "s_server", "-accept", f"{HOST}:{port}", "-cert", str(cert)]
        args += ["-key", str(key)]
        if ca_file is not None:
            args += ["-CAfile", str(ca_file)]
        if cert_chain is not None:
            args += ["-cert_chain", str(cert_chain)]
        if www:
            args.append("-www")
        if verify_return_error:
            args.append("-verify_return_error")
        return args + list(options)

    with _serving("openssl s_server", home, command, logs=(home / "stdout.log",)) as server:
        yield server


@contextlib.contextmanager
def node_exporter(directory: Path, textfiles: Path) -> Iterator[RunningServer]:
    """Run node exporter with its textfile collector alone, reading ``textfiles/*.prom``.

    It serves plain HTTP on 127.0.0.1 (``/metrics``): read it with :func:`scrape`. A file it
    cannot parse shows as ``node_textfile_scrape_error 1`` and its metrics are left out.

    Yields:
        The running exporter; stopped when the block exits.

    Raises:
        ServerStartError: It exited or did not open its port; the message holds its output.
    """
    home = Path(tempfile.mkdtemp(prefix="node-exporter-", dir=directory))

    def command(port: int) -> list[str]:
        return [
            NODE_EXPORTER,
            f"--web.listen-address={HOST}:{port}",
            "--collector.disable-defaults",
            "--collector.textfile",
            f"--collector.textfile.directory={textfiles}",
        ]

    with _serving("node exporter", home, command, logs=(home / "stdout.log",)) as server:
        yield server


def scrape(server: RunningServer) -> str:
    """The text of ``http://HOST:PORT/metrics`` (what Prometheus would scrape), through curl."""
    done = subprocess.run(
        [CURL, "--silent", "--show-error", "--fail", f"http://{server.host}:{server.port}/metrics"],
        capture_output=True,
        check=True,
        timeout=30,
    )
    return done.stdout.decode()


#: What a mutual-TLS virtual host needs; mod_log_config and mod_unixd are built into Debian's binary.
_APACHE_MODULES: Final = (
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("dir_module", "mod_dir.so"),
    ("mime_module", "mod_mime.so"),
    ("headers_module", "mod_headers.so"),
    ("socache_shmcb_module", "mod_socache_shmcb.so"),
    ("ssl_module", "mod_ssl.so"),
)


@contextlib.contextmanager
def apache_server(
    directory: Path,
    vhost_directives: str,
    *,
    server_directives: str = "",
) -> Iterator[RunningServer]:
    """Run Debian's apache2 standalone with one ``<VirtualHost 127.0.0.1:<port>>``, ``SSLEngine on``.

    The caller's directives go inside the virtual host (``SSLCertificateFile``,
    ``SSLCertificateKeyFile``, ``SSLVerifyClient``, ``SSLCACertificateFile``, ``<Location>``
    blocks, ...), as a docs page gives them with the paths filled in. The document root holds an
    ``index.html`` of ``ok``, so ``/`` answers 200. ServerRoot, PidFile, ErrorLog, the runtime
    directory and the TLS session cache stay in the server's directory; mutexes are pthread
    ones, so no lock file has to be reachable by ``www-data``.

    Args:
        directory: Where the server's own directory is created.
        vhost_directives: The body of the ``VirtualHost`` (``SSLEngine on`` is added).
        server_directives: Extra directives at server level, before the virtual host.

    Yields:
        The running server; stopped (its process group) when the block exits.

    Raises:
        ServerStartError: apache2 refused its configuration or did not open its port; the
            message holds its error log and its stderr (where syntax errors go).
    """
    home = Path(tempfile.mkdtemp(prefix="apache-", dir=directory))
    error_log = home / "error.log"
    access_log = home / "access.log"
    conf = home / "apache2.conf"
    user = "User www-data\nGroup www-data" if os.geteuid() == 0 else ""
    modules = "\n".join(f"LoadModule {name} {APACHE_MODULES / so}" for name, so in _APACHE_MODULES)
    # The workers serve index.html as www-data, who cannot enter pytest's 0700 temporary tree.
    with tempfile.TemporaryDirectory(prefix="tsb-apache-docroot-") as root:
        docroot = Path(root)
        docroot.chmod(0o755)
        (docroot / "index.html").write_text("ok\n", encoding="utf-8")
        (docroot / "index.html").chmod(0o644)

        def configure(port: int) -> list[str]:
            conf.write_text(
                f"""ServerRoot {home}
DefaultRuntimeDir {home}
PidFile {home}/apache2.pid
ErrorLog {error_log}
LogLevel info
{modules}
{user}
Mutex pthread default
ServerName {SERVER_NAME}
Listen {HOST}:{port}
TypesConfig /dev/null
SSLSessionCache shmcb:{home}/ssl_scache(512000)
CustomLog {access_log} "%h %u %t \\"%r\\" %>s %b %{{SSL_PROTOCOL}}x"
DocumentRoot {docroot}
DirectoryIndex index.html
<Directory {docroot}>
    Require all granted
</Directory>
{server_directives}
<VirtualHost {HOST}:{port}>
    ServerName {SERVER_NAME}
    SSLEngine on
    {vhost_directives}
</VirtualHost>
""",
                encoding="utf-8",
            )
            return [APACHE, "-d", str(home), "-f", str(conf), "-DFOREGROUND"]

        with _serving(
            "apache2", home, configure, logs=(error_log, access_log, home / "stdout.log")
        ) as server:
            yield server


#: Tomcat's start-up takes seconds (a JVM, then the connector, then the ROOT webapp).
_TOMCAT_READY_SECONDS = 60.0
_TOMCAT_STARTED = "Server startup in"
#: Tomcat's server-wide web.xml: only the default servlet (static files) and the welcome file.
_TOMCAT_WEB_XML = """<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0">
  <servlet>
    <servlet-name>default</servlet-name>
    <servlet-class>org.apache.catalina.servlets.DefaultServlet</servlet-class>
    <load-on-startup>1</load-on-startup>
  </servlet>
  <servlet-mapping>
    <servlet-name>default</servlet-name>
    <url-pattern>/</url-pattern>
  </servlet-mapping>
  <welcome-file-list>
    <welcome-file>index.html</welcome-file>
  </welcome-file-list>
</web-app>
"""
#: Debian's class loader layout, with jar scanning off (nothing to scan; it costs start-up).
_TOMCAT_PROPERTIES = """common.loader="${catalina.base}/lib","${catalina.base}/lib/*.jar",\
"${catalina.home}/lib","${catalina.home}/lib/*.jar"
server.loader=
shared.loader=
tomcat.util.scan.StandardJarScanFilter.jarsToSkip=*.jar
"""


@attrs.frozen
class TomcatTls:
    """The key store, trust store and client-certificate rule of Tomcat's HTTPS connector.

    Its repr hides both passwords, so a failing assertion never prints them.

    Attributes:
        keystore: The server's key store (key entry: key and certificate chain).
        keystore_password: Its password.
        truststore: The CAs that verify client certificates; None trusts the JDK's cacerts.
        truststore_password: Its password; None for a password-less PKCS#12.
        certificate_verification: ``required``, ``optional`` (ask, accept none) or ``none``.
        keystore_type: ``PKCS12`` or ``JKS``.
        truststore_type: ``PKCS12`` or ``JKS``.
        ssl_host_config: Further ``SSLHostConfig`` attributes (``protocols``,
            ``certificateVerificationDepth``, ...).
    """

    keystore: Path
    keystore_password: str = attrs.field(repr=False)
    truststore: Path | None
    truststore_password: str | None = attrs.field(repr=False)
    certificate_verification: Literal["required", "optional", "optional_no_ca", "none"] = "required"
    keystore_type: Literal["PKCS12", "JKS"] = "PKCS12"
    truststore_type: Literal["PKCS12", "JKS"] = "PKCS12"
    ssl_host_config: tuple[tuple[str, str], ...] = ()

    @property
    def secrets(self) -> tuple[str, ...]:
        """The passwords, to blank out of anything shown."""
        return tuple(p for p in (self.keystore_password, self.truststore_password) if p)

    def connector_xml(self) -> str:
        """The ``<Connector>`` element, its port left as the ``{port}`` placeholder."""
        host_config = {
            "certificateVerification": self.certificate_verification,
            **dict(self.ssl_host_config),
        }
        if self.truststore is not None:
            host_config["truststoreFile"] = str(self.truststore)
            host_config["truststoreType"] = self.truststore_type
            if self.truststore_password is not None:
                host_config["truststorePassword"] = self.truststore_password
        certificate = {
            "certificateKeystoreFile": str(self.keystore),
            "certificateKeystorePassword": self.keystore_password,
            "certificateKeystoreType": self.keystore_type,
        }
        return f"""<Connector port="{{port}}" address="{HOST}" SSLEnabled="true" scheme="https"
           secure="true" maxThreads="8"
           protocol="org.apache.coyote.http11.Http11NioProtocol">
      <SSLHostConfig {_xml_attributes(host_config)}>
        <Certificate {_xml_attributes(certificate)}/>
      </SSLHostConfig>
    </Connector>"""


def _xml_attributes(attributes: dict[str, str]) -> str:
    return " ".join(f"{name}={quoteattr(value)}" for name, value in attributes.items())


@contextlib.contextmanager
def tomcat_server(
    directory: Path,
    tls: TomcatTls | str,
    *,
    secrets: Sequence[str] = (),
) -> Iterator[RunningServer]:
    """Run Debian's Tomcat 10 on JDK 17 with one HTTPS connector, from a private CATALINA_BASE.

    CATALINA_HOME is /usr/share/tomcat10; CATALINA_BASE is the server's own directory, with a
    ``conf/server.xml`` (no shutdown port), a minimal ``conf/web.xml`` and a ROOT webapp whose
    ``index.html`` says ``ok``. Tomcat logs to its stdout, kept in ``stdout.log``. Start-up takes
    a few seconds, so share one server across tests with a module- or session-scoped fixture.

    Args:
        directory: Where CATALINA_BASE is created.
        tls: The connector's stores and client-certificate rule, or the ``<Connector>`` element
            as XML text with ``{port}`` where its port goes (all else is the caller's).
        secrets: Strings to blank out of the logs in a start failure's message (the passwords
            in a ``<Connector>`` given as text; a :class:`TomcatTls` adds its own).

    Yields:
        The running server; stopped (the JVM's process group) when the block exits.

    Raises:
        ServerStartError: Tomcat exited or did not log that it started within a minute; the
            message holds its output with the passwords blanked out.
    """
    home = Path(tempfile.mkdtemp(prefix="tomcat-", dir=directory))
    conf = home / "conf"
    for sub in ("conf", "logs", "temp", "work", "webapps/ROOT"):
        (home / sub).mkdir(parents=True)
    (conf / "web.xml").write_text(_TOMCAT_WEB_XML, encoding="utf-8")
    (conf / "catalina.properties").write_text(_TOMCAT_PROPERTIES, encoding="utf-8")
    (home / "webapps/ROOT/index.html").write_text("ok\n", encoding="utf-8")
    if isinstance(tls, TomcatTls):
        connector, hidden = tls.connector_xml(), (*secrets, *tls.secrets)
    else:
        connector, hidden = tls, tuple(secrets)
    server_xml = conf / "server.xml"

    def configure(port: int) -> list[str]:
        server_xml.write_text(
            f"""<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    {connector.replace("{port}", str(port))}
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false"/>
    </Engine>
  </Service>
</Server>
""",
            encoding="utf-8",
        )
        # server.xml holds the passwords: only root (the JVM's user) reads it.
        server_xml.chmod(0o600)
        return [
            JAVA,
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            "-Xshare:auto",
            "-Djava.security.egd=file:/dev/./urandom",
            f"-Dcatalina.home={CATALINA_HOME}",
            f"-Dcatalina.base={home}",
            f"-Djava.io.tmpdir={home / 'temp'}",
            # A connector that cannot bind (or a bad store) ends the JVM instead of leaving a
            # Tomcat with no connector running.
            "-Dorg.apache.catalina.startup.EXIT_ON_INIT_FAILURE=true",
            "-cp",
            f"{CATALINA_HOME / 'bin/bootstrap.jar'}:{CATALINA_HOME / 'bin/tomcat-juli.jar'}",
            "org.apache.catalina.startup.Bootstrap",
            "start",
        ]

    def started(_server: RunningServer) -> bool:
        return _TOMCAT_STARTED in (home / "stdout.log").read_text(errors="replace")

    with _serving(
        "tomcat",
        home,
        configure,
        logs=(home / "stdout.log",),
        ready=started,
        ready_seconds=_TOMCAT_READY_SECONDS,
        secrets=hidden,
    ) as server:
        yield server


@contextlib.contextmanager
def haproxy_server(
    directory: Path,
    bind_options: str,
    *,
    frontend_directives: str = "",
) -> Iterator[RunningServer]:
    """Run HAProxy in the foreground with one ``bind 127.0.0.1:<port> <bind_options>`` frontend.

    ``bind_options`` is the rest of the ``bind`` line, e.g. ``ssl crt <pem> ca-file <pem>
    verify required`` (``crt`` is one PEM file: certificate, intermediates, key). The frontend
    answers every request itself with 200 ``ok`` (``http-request return``); HAProxy logs each
    request and handshake failure to its stdout (``stdout.log``).

    Args:
        directory: Where the server's own directory is created.
        bind_options: Everything after the address on the ``bind`` line.
        frontend_directives: More directives for the frontend, before its ``http-request return``.

    Yields:
        The running server; stopped when the block exits.

    Raises:
        ServerStartError: HAProxy refused its configuration or did not open its port.
    """
    home = Path(tempfile.mkdtemp(prefix="haproxy-", dir=directory))
    conf = home / "haproxy.cfg"

    def configure(port: int) -> list[str]:
        conf.write_text(
            f"""global
    log stdout format raw local0 info

defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend tls
    bind {HOST}:{port} {bind_options}
    {frontend_directives}
    http-request return status 200 content-type text/plain string "ok\\n"
""",
            encoding="utf-8",
        )
        return [HAPROXY, "-db", "-f", str(conf)]

    with _serving("haproxy", home, configure, logs=(home / "stdout.log",)) as server:
        yield server


@attrs.frozen
class CurlResult:
    """What curl got: its exit status, the HTTP status (0 when none) and the body, and its stderr."""

    returncode: int
    status: int
    body: str
    stderr: str

    @property
    def describe(self) -> str:
        """A one-line account for assertion messages."""
        return f"curl exit {self.returncode}, HTTP {self.status}, body {self.body!r}, {self.stderr.strip()!r}"


def curl(
    server: RunningServer,
    *,
    cacert: Path,
    cert: Path | None = None,
    key: Path | None = None,
    path: str = "/",
    options: Sequence[str] = (),
) -> CurlResult:
    """GET ``path`` from ``server`` with /usr/bin/curl, presenting ``cert`` and ``key`` if given.

    The certificate's name is resolved to the server's address (``--resolve``), so host name
    verification runs as it would in production. A refused handshake is a non-zero exit
    status with ``status`` 0; an HTTP-level refusal (nginx's 400) is exit 0 with that status.
    """
    args = [CURL, "-sS", "--max-time", "15", "--cacert", str(cacert)]
    args += ["--resolve", f"{server.server_name}:{server.port}:{server.host}"]
    if cert is not None:
        args += ["--cert", str(cert)]
    if key is not None:
        args += ["--key", str(key)]
    args += ["-o", "-", "-w", "\n%{http_code}", *options, server.url(path)]
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=30)
    body, _, status = done.stdout.rpartition("\n")
    return CurlResult(
        returncode=done.returncode,
        status=int(status) if status.isdigit() else 0,
        body=body,
        stderr=done.stderr,
    )


def port_is_free(port: int) -> bool:
    """True when nothing accepts connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return False
    except OSError:
        return True


@contextlib.contextmanager
def _serving(
    name: str,
    home: Path,
    command_for_port: Callable[[int], Sequence[str]],
    *,
    logs: tuple[Path, ...],
    env: dict[str, str] | None = None,
    ready: Callable[[RunningServer], bool] | None = None,
    ready_seconds: float = _READY_SECONDS,
    secrets: Sequence[str] = (),
) -> Iterator[RunningServer]:
    """Start ``command_for_port(port)`` on a free port (retrying on EADDRINUSE) and stop it after.

    The command's stdout and stderr go to ``home/stdout.log`` (list it in ``logs`` to see it).
    ``ready`` is an extra readiness test on top of the open port (Tomcat's start-up line);
    ``secrets`` are blanked out of any log text put in an error message.
    """
    assert_marked_slow(name)
    output = home / "stdout.log"
    failures: list[str] = []
    for _attempt in range(_PORT_ATTEMPTS):
        port = free_port()
        command = list(command_for_port(port))
        server = RunningServer(
            host=HOST, port=port, logs=logs, directory=home, secrets=tuple(secrets)
        )
        with output.open("ab") as sink:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=home,
                env=env,
                start_new_session=True,
            )
        try:
            outcome = _wait_until_ready(process, server, ready, ready_seconds)
            if outcome is None:
                yield server
                return
            text = server.read_logs()
            if _ADDRESS_IN_USE.search(text):
                failures.append(f"port {port} was taken")
                # Old logs would match again on the next attempt.
                for log in logs:
                    log.unlink(missing_ok=True)
                continue
            msg = f"{name} did not start on {HOST}:{port}: {outcome}\n{' '.join(command)}\n{text}"
            raise ServerStartError(_redact(msg, secrets))
        finally:
            _stop(process)
    msg = f"{name} found no free port in {_PORT_ATTEMPTS} attempts: {'; '.join(failures)}"
    raise ServerStartError(msg)


def _wait_until_ready(
    process: subprocess.Popen[bytes],
    server: RunningServer,
    ready: Callable[[RunningServer], bool] | None,
    seconds: float,
) -> str | None:
    """None once the server accepts connections (and ``ready`` agrees); else why not."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (code := process.poll()) is not None:
            return f"it exited with status {code}"
        # Whoever took the free port from us would accept connections too: the listening
        # socket must be our process's before a connection proves anything.
        if (
            _listens(process.pid, server.port)
            and not port_is_free(server.port)
            and (ready is None or ready(server))
        ):
            return None
        time.sleep(0.05)
    return f"it was not ready within {seconds:g} s"


def _listens(pid: int, port: int) -> bool:
    """True when process ``pid`` holds a socket listening on 127.0.0.1:``port`` (Linux /proc)."""
    # A JVM listens on an IPv6 socket even for 127.0.0.1: ::ffff:127.0.0.1 in tcp6.
    wanted = {f"0100007F:{port:04X}", f"0000000000000000FFFF00000100007F:{port:04X}"}
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text(encoding="ascii").splitlines()[1:]:
                fields = line.split()
                if fields[1] in wanted and fields[3] == "0A":  # 0A: LISTEN
                    inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return False
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if str(fd.readlink()) in inodes:
                    return True
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the whole process group (workers included): SIGTERM, then SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; a worker that outlived it still holds the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return


def _read_logs(logs: Sequence[Path]) -> str:
    parts = []
    for log in logs:
        try:
            text = log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            text = "(not written)"
        parts.append(f"--- {log.name} ---\n{text.rstrip()}")
    return "\n".join(parts)


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


@contextlib.contextmanager
def loopback_http_server(
    handler: Callable[..., http.server.BaseHTTPRequestHandler],
) -> Iterator[str]:
    """Serve plain HTTP on a free 127.0.0.1 port with ``handler``; yield its base URL.

    A thread serves it, and it is shut down (and the thread joined) on exit, test failed or not.
    """
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
