// A Java 17 mutual-TLS client that proves key stores and trust stores written by
// truststore_builder are really usable by Java. Single file, no dependencies:
//
//   java [JAVA OPTIONS] tests/java/TlsClient.java HOST PORT
//        --keystore PATH --keystore-type (JKS|PKCS12) --keystore-password-env VAR
//        [--key-password-env VAR]
//        --truststore PATH --truststore-type (JKS|PKCS12|PEM) [--truststore-password-env VAR]
//        [--server-name NAME] [--timeout SECONDS] [--list]
//
// Passwords are read from the named environment variables only, never from the command line,
// and are never printed. JAVA OPTIONS such as -Djdk.tls.client.protocols=TLSv1.2 go before the
// file name.
//
// Connect mode prints exactly one line on stdout:
//   ACCEPTED <reply>                       exit 0: handshake done, "ping\n" sent, reply read
//   REFUSED <exception class>: <message>   exit 3: handshake failed, or (TLS 1.3) the server
//                                          rejected the client certificate after the client's
//                                          handshake had finished, seen on the first read
//   KEYSTORE-ERROR <store>: <message>      exit 4: a store is unreadable, has the wrong store
//                                          password, or its key cannot be recovered; or the
//                                          key store has no private key entry with a chain,
//                                          or the trust store no trustedCertEntry, as Java
//                                          sees them
//   CONNECT-ERROR <exception class>: <message>
//                                          exit 5: no TCP connection, or the server never answered
//   UNTRUSTED-SERVER <exception class>: <message>
//                                          exit 6: this client rejected the server certificate
//                                          (not in the trust store, or name mismatch); kept
//                                          apart from REFUSED so that a broken trust store
//                                          cannot pass for "the server refused my certificate"
//   ERROR <exception class>: <message>     exit 1: anything else
//   usage errors                           exit 2 (message on stderr)
// Progress goes to stderr: "INFO handshake protocol=TLSv1.3 cipher=... local-chain=N" once the
// client's handshake is done (local-chain: how many certificates it presented), and
// "INFO refused stage=handshake|after-handshake" before a REFUSED line.
//
// --list prints one tab-separated line per alias of each store given, then exits 0 without
// connecting (HOST and PORT may be "-"):
//   <keystore|truststore> TAB <alias> TAB <PrivateKeyEntry|SecretKeyEntry|trustedCertEntry>
//       [TAB chain=<n>] [TAB key=<algorithm>|key=UNRECOVERABLE] [TAB subject=<subject of the
//       first certificate>]
// chain=<n> is given for private keys (0: Java found the key but not its certificates);
// key=... for keys of the key store, tried with the key password (default: store password).
// Without a password a JKS loads unchecked, and a PKCS#12 loads without its encrypted
// certificate bags: Java then shows the key entry with chain=0 and no trusted entries.
// In --list mode every store option is optional, but at least one store must be given.

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public final class TlsClient {
    static final int EXIT_ACCEPTED = 0;
    static final int EXIT_ERROR = 1;
    static final int EXIT_USAGE = 2;
    static final int EXIT_REFUSED = 3;
    static final int EXIT_KEYSTORE = 4;
    static final int EXIT_CONNECT = 5;
    static final int EXIT_UNTRUSTED_SERVER = 6;

    static final String USAGE =
            "usage: java TlsClient.java HOST PORT --keystore PATH --keystore-type (JKS|PKCS12)"
                    + " --keystore-password-env VAR [--key-password-env VAR]"
                    + " --truststore PATH --truststore-type (JKS|PKCS12|PEM)"
                    + " [--truststore-password-env VAR] [--server-name NAME]"
                    + " [--timeout SECONDS] [--list]";

    /** A usage error: exit 2. */
    static final class UsageError extends Exception {
        private static final long serialVersionUID = 1L;

        UsageError(String message) {
            super(message);
        }
    }

    /** A store that cannot be loaded or whose key cannot be recovered: exit 4. */
    static final class StoreError extends Exception {
        private static final long serialVersionUID = 1L;

        StoreError(String store, String message, Throwable cause) {
            super(store + ": " + message, cause);
        }
    }

    public static void main(String[] args) {
        int code;
        try {
            code = run(args);
        } catch (UsageError e) {
            System.err.println("error: " + e.getMessage());
            System.err.println(USAGE);
            code = EXIT_USAGE;
        } catch (StoreError e) {
            System.out.println("KEYSTORE-ERROR " + oneLine(e.getMessage()));
            code = EXIT_KEYSTORE;
        }
        System.out.flush();
        System.exit(code);
    }

    static int run(String[] args) throws UsageError, StoreError {
        List<String> positional = new ArrayList<>();
        Map<String, String> options = new HashMap<>();
        boolean list = false;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("--list")) {
                list = true;
            } else if (arg.equals("-h") || arg.equals("--help")) {
                System.out.println(USAGE);
                return EXIT_ACCEPTED;
            } else if (arg.startsWith("--")) {
                if (!KNOWN_OPTIONS.contains(arg)) {
                    throw new UsageError("unknown option " + arg);
                }
                if (i + 1 >= args.length) {
                    throw new UsageError(arg + " needs a value");
                }
                if (options.put(arg, args[++i]) != null) {
                    throw new UsageError(arg + " given twice");
                }
            } else {
                positional.add(arg);
            }
        }
        if (positional.size() != 2) {
            throw new UsageError("expected HOST and PORT, got " + positional);
        }
        if (list) {
            return list(options);
        }
        for (String required :
                List.of("--keystore", "--keystore-type", "--keystore-password-env",
                        "--truststore", "--truststore-type")) {
            if (!options.containsKey(required)) {
                throw new UsageError(required + " is required");
            }
        }
        String host = positional.get(0);
        int port;
        try {
            port = Integer.parseInt(positional.get(1));
        } catch (NumberFormatException e) {
            throw new UsageError("PORT must be a number, got " + positional.get(1));
        }
        int timeoutMillis = timeoutMillis(options);
        String serverName = options.getOrDefault("--server-name", host);

        char[] storePassword = password(options.get("--keystore-password-env"), true);
        String keyPasswordVar = options.get("--key-password-env");
        char[] keyPassword = keyPasswordVar == null ? storePassword : password(keyPasswordVar, true);
        KeyStore keyStore = loadStore("keystore", options.get("--keystore"),
                keyStoreType(options.get("--keystore-type")), storePassword);
        KeyStore trustStore = loadTrustStore(options);
        // Without these checks a broken store would only show as a refused handshake.
        requireEntries("keystore", keyStore, true);
        requireEntries("truststore", trustStore, false);

        SSLContext context;
        try {
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keyStore, keyPassword);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trustStore);
            context = SSLContext.getInstance("TLS");
            context.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        } catch (java.security.UnrecoverableKeyException e) {
            throw new StoreError("keystore", "key cannot be recovered with the key password ("
                    + e.getClass().getName() + ": " + e.getMessage() + ")", e);
        } catch (java.security.GeneralSecurityException e) {
            throw new StoreError("keystore", e.getClass().getName() + ": " + e.getMessage(), e);
        }
        return connect(context, host, port, serverName, timeoutMillis);
    }

    static final List<String> KNOWN_OPTIONS = List.of(
            "--keystore", "--keystore-type", "--keystore-password-env", "--key-password-env",
            "--truststore", "--truststore-type", "--truststore-password-env", "--server-name",
            "--timeout");

    static int timeoutMillis(Map<String, String> options) throws UsageError {
        String value = options.getOrDefault("--timeout", "15");
        try {
            double seconds = Double.parseDouble(value);
            if (!(seconds > 0)) {
                throw new NumberFormatException();
            }
            return (int) Math.ceil(seconds * 1000);
        } catch (NumberFormatException e) {
            throw new UsageError("--timeout must be a positive number of seconds, got " + value);
        }
    }

    static int connect(SSLContext context, String host, int port, String serverName, int timeoutMillis) {
        Socket plain = new Socket();
        String stage = "connect";
        try {
            try {
                plain.connect(new InetSocketAddress(host, port), timeoutMillis);
                plain.setSoTimeout(timeoutMillis);
            } catch (IOException e) {
                System.out.println("CONNECT-ERROR " + describe(e));
                return EXIT_CONNECT;
            }
            // Layering over a connected socket makes serverName the peer host: it is what the
            // server certificate is checked against (HTTPS endpoint identification).
            try (SSLSocket tls = (SSLSocket) context.getSocketFactory()
                    .createSocket(plain, serverName, port, true)) {
                SSLParameters parameters = tls.getSSLParameters();
                parameters.setEndpointIdentificationAlgorithm("HTTPS");
                tls.setSSLParameters(parameters);
                stage = "handshake";
                tls.startHandshake();
                stage = "after-handshake";
                System.err.println("INFO handshake protocol=" + tls.getSession().getProtocol()
                        + " cipher=" + tls.getSession().getCipherSuite()
                        + " local-chain=" + lengthOf(tls.getSession().getLocalCertificates()));
                OutputStream out = tls.getOutputStream();
                out.write("ping\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                String reply = readReply(tls.getInputStream());
                if (reply == null) {
                    System.err.println("INFO refused stage=" + stage);
                    // TLS 1.3: a server that rejects the client certificate may just close.
                    System.out.println("REFUSED java.io.EOFException: the server closed the"
                            + " connection without a reply");
                    return EXIT_REFUSED;
                }
                System.out.println("ACCEPTED " + oneLine(reply));
                return EXIT_ACCEPTED;
            }
        } catch (SocketTimeoutException e) {
            System.out.println("CONNECT-ERROR " + describe(e));
            return EXIT_CONNECT;
        } catch (SSLException e) {
            if (causedByCertificateCheck(e)) {
                // This client rejected the server: the trust store (or server name) is wrong.
                System.out.println("UNTRUSTED-SERVER " + describe(e));
                return EXIT_UNTRUSTED_SERVER;
            }
            System.err.println("INFO refused stage=" + stage);
            System.out.println("REFUSED " + describe(e));
            return EXIT_REFUSED;
        } catch (SocketException e) {
            // SSLHandshakeException is an SSLException. SocketException covers "Connection
            // reset" and "Broken pipe", which is how a TLS 1.3 refusal can surface.
            System.err.println("INFO refused stage=" + stage);
            System.out.println("REFUSED " + describe(e));
            return EXIT_REFUSED;
        } catch (UnknownHostException e) {
            System.out.println("CONNECT-ERROR " + describe(e));
            return EXIT_CONNECT;
        } catch (IOException e) {
            System.out.println("ERROR " + describe(e));
            return EXIT_ERROR;
        } finally {
            try {
                plain.close();
            } catch (IOException ignored) {
                // nothing useful to do
            }
        }
    }

    /** The bytes of the first reply (up to a newline, if any); null on end of stream. */
    static String readReply(InputStream in) throws IOException {
        byte[] buffer = new byte[4096];
        ByteArrayOutputStream reply = new ByteArrayOutputStream();
        int n = in.read(buffer);
        if (n < 0) {
            return null;
        }
        reply.write(buffer, 0, n);
        // The reply may span records; take what is already there, without waiting for more.
        while (in.available() > 0 && (n = in.read(buffer)) > 0) {
            reply.write(buffer, 0, n);
        }
        String text = reply.toString(StandardCharsets.UTF_8);
        int newline = text.indexOf('\n');
        return newline >= 0 ? text.substring(0, newline).replaceAll("\r$", "") : text;
    }

    static int list(Map<String, String> options) throws UsageError, StoreError {
        boolean any = false;
        if (options.containsKey("--keystore")) {
            require(options, "--keystore-type");
            String var = options.get("--keystore-password-env");
            char[] storePassword = var == null ? null : password(var, true);
            String keyVar = options.get("--key-password-env");
            char[] keyPassword = keyVar == null ? storePassword : password(keyVar, true);
            KeyStore store = loadStore("keystore", options.get("--keystore"),
                    keyStoreType(options.get("--keystore-type")), storePassword);
            printEntries("keystore", store, keyPassword);
            any = true;
        }
        if (options.containsKey("--truststore")) {
            require(options, "--truststore-type");
            KeyStore store = loadTrustStore(options);
            printEntries("truststore", store, null);
            any = true;
        }
        if (!any) {
            throw new UsageError("--list needs --keystore or --truststore");
        }
        return EXIT_ACCEPTED;
    }

    /**
     * Fail unless the store has a private key entry with its chain (key store) or a
     * trusted certificate entry (trust store). Java reads a PKCS#12 whose certificates lack its
     * trusted-certificate attribute, or one loaded without its password, as holding neither.
     */
    static void requireEntries(String label, KeyStore store, boolean key) throws StoreError {
        try {
            for (String alias : Collections.list(store.aliases())) {
                if (key && store.isKeyEntry(alias) && lengthOf(store.getCertificateChain(alias)) > 0) {
                    return;
                }
                if (!key && store.isCertificateEntry(alias)) {
                    return;
                }
            }
        } catch (java.security.KeyStoreException e) {
            throw new StoreError(label, e.getClass().getName() + ": " + e.getMessage(), e);
        }
        throw new StoreError(label, key
                ? "no private key entry with a certificate chain (" + store.getType() + ")"
                : "no trustedCertEntry (" + store.getType() + "): Java trusts nothing in it", null);
    }

    static void require(Map<String, String> options, String name) throws UsageError {
        if (!options.containsKey(name)) {
            throw new UsageError(name + " is required");
        }
    }

    static void printEntries(String label, KeyStore store, char[] keyPassword) throws StoreError {
        try {
            List<String> aliases = Collections.list(store.aliases());
            Collections.sort(aliases);
            for (String alias : aliases) {
                StringBuilder line = new StringBuilder(label).append('\t').append(alias).append('\t');
                Certificate first;
                if (store.isKeyEntry(alias)) {
                    Certificate[] chain = store.getCertificateChain(alias);
                    if (store.entryInstanceOf(alias, KeyStore.SecretKeyEntry.class)) {
                        line.append("SecretKeyEntry");
                        first = null;
                    } else {
                        // chain=0: a key without its certificates, which is what Java makes of
                        // a PKCS#12 loaded without its password (the certificate bag is skipped).
                        line.append("PrivateKeyEntry\tchain=").append(lengthOf(chain));
                        first = chain != null && chain.length > 0 ? chain[0] : null;
                    }
                    if (keyPassword != null) {
                        line.append("\tkey=").append(recoverKey(store, alias, keyPassword));
                    }
                } else if (store.isCertificateEntry(alias)) {
                    line.append("trustedCertEntry");
                    first = store.getCertificate(alias);
                } else {
                    line.append("unknown");
                    first = null;
                }
                if (first instanceof X509Certificate x509) {
                    line.append("\tsubject=").append(x509.getSubjectX500Principal().getName());
                }
                System.out.println(line);
            }
        } catch (java.security.KeyStoreException e) {
            throw new StoreError(label, e.getClass().getName() + ": " + e.getMessage(), e);
        }
    }

    static String recoverKey(KeyStore store, String alias, char[] keyPassword) {
        try {
            Key key = store.getKey(alias, keyPassword);
            return key == null ? "UNRECOVERABLE" : key.getAlgorithm();
        } catch (java.security.GeneralSecurityException e) {
            return "UNRECOVERABLE";
        }
    }

    static String keyStoreType(String type) throws UsageError {
        String upper = type.toUpperCase(java.util.Locale.ROOT);
        if (!upper.equals("JKS") && !upper.equals("PKCS12")) {
            throw new UsageError("--keystore-type must be JKS or PKCS12, got " + type);
        }
        return upper;
    }

    static KeyStore loadTrustStore(Map<String, String> options) throws UsageError, StoreError {
        String type = options.get("--truststore-type").toUpperCase(java.util.Locale.ROOT);
        String path = options.get("--truststore");
        String var = options.get("--truststore-password-env");
        char[] password = var == null ? null : password(var, true);
        switch (type) {
            case "JKS":
            case "PKCS12":
                return loadStore("truststore", path, type, password);
            case "PEM":
                return loadPem(path);
            default:
                throw new UsageError("--truststore-type must be JKS, PKCS12 or PEM, got " + type);
        }
    }

    /** Load a JKS or PKCS#12 store; a null password skips the integrity check. */
    static KeyStore loadStore(String label, String path, String type, char[] password) throws StoreError {
        try (InputStream in = Files.newInputStream(Path.of(path))) {
            KeyStore store = KeyStore.getInstance(type);
            store.load(in, password);
            return store;
        } catch (IOException | java.security.GeneralSecurityException e) {
            // A wrong password shows as an IOException whose cause is UnrecoverableKeyException.
            String cause = e.getCause() == null ? "" : " (" + e.getCause().getClass().getName() + ")";
            throw new StoreError(label, "cannot load " + type + " " + path + ": "
                    + e.getClass().getName() + ": " + e.getMessage() + cause, e);
        }
    }

    /** Load every certificate of a PEM bundle into an in-memory trust store. */
    static KeyStore loadPem(String path) throws StoreError {
        try (InputStream in = Files.newInputStream(Path.of(path))) {
            Collection<? extends Certificate> certificates =
                    CertificateFactory.getInstance("X.509").generateCertificates(in);
            if (certificates.isEmpty()) {
                throw new StoreError("truststore", "no certificate in PEM " + path, null);
            }
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            int i = 0;
            for (Certificate certificate : certificates) {
                store.setCertificateEntry(String.format("pem-%03d", i++), certificate);
            }
            return store;
        } catch (IOException | java.security.GeneralSecurityException e) {
            throw new StoreError("truststore", "cannot load PEM " + path + ": "
                    + e.getClass().getName() + ": " + e.getMessage(), e);
        }
    }

    static char[] password(String variable, boolean required) throws UsageError {
        String value = System.getenv(variable);
        if (value == null) {
            if (required) {
                throw new UsageError("environment variable " + variable + " is not set");
            }
            return null;
        }
        return value.toCharArray();
    }

    /** True when this client's own check of the server certificate failed (not the server's). */
    static boolean causedByCertificateCheck(Throwable e) {
        for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
            if (t instanceof java.security.cert.CertificateException
                    || t instanceof java.security.cert.CertPathBuilderException
                    || t instanceof java.security.cert.CertPathValidatorException
                    || t instanceof java.security.InvalidAlgorithmParameterException) {
                return true;
            }
        }
        return false;
    }

    static String describe(Throwable e) {
        return e.getClass().getName() + ": " + oneLine(String.valueOf(e.getMessage()));
    }

    static String oneLine(String text) {
        return text.replaceAll("[\\r\\n]+", " ").strip();
    }

    static int lengthOf(Certificate[] chain) {
        return chain == null ? 0 : chain.length;
    }
}
