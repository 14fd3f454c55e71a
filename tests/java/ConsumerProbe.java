// The consumer matrix's Java probe: one JVM start checks many files. Java 11 source level
// (compiled once with javac --release 11, run by Java 11, 17, 21 and 25).
//
//   java [-Djavax.net.ssl.* ...] ConsumerProbe https URL...
//       GET each URL through HttpsURLConnection's default SSL context, which Java builds from
//       the javax.net.ssl.* system properties alone, as Java applications are configured.
//       One line per URL:  ACCEPTED|UNTRUSTED-SERVER|REFUSED|ERROR TAB url TAB detail
//   java [-Dprobe.provider=BC] ConsumerProbe load < requests
//       Each stdin line is TYPE TAB PATH TAB PASSWORD (the password field absent: load with a
//       null password). Load the store (from the BouncyCastle provider with -Dprobe.provider=BC,
//       found on the class path) and print one line per store:
//       LOADED TAB path TAB trusted=<sha256,...> TAB keys=<alias:chain-length:algorithm,...>
//       FAILED TAB path TAB <exception class>: <message>
// Passwords come on stdin only, never on the command line, and are never printed.

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.Provider;
import java.security.Security;
import java.security.cert.Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLException;

public final class ConsumerProbe {
    private ConsumerProbe() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length >= 1 && args[0].equals("https")) {
            for (int i = 1; i < args.length; i++) {
                System.out.println(get(args[i]));
            }
        } else if (args.length == 1 && args[0].equals("load")) {
            String providerName = System.getProperty("probe.provider");
            if ("BC".equals(providerName)) {
                Security.addProvider((Provider) Class.forName(
                        "org.bouncycastle.jce.provider.BouncyCastleProvider")
                        .getDeclaredConstructor().newInstance());
            }
            BufferedReader in = new BufferedReader(
                    new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                if (!line.isEmpty()) {
                    System.out.println(load(line.split("\t", -1), providerName));
                }
            }
        } else {
            System.err.println("usage: ConsumerProbe https URL... | ConsumerProbe load < requests");
            System.exit(2);
        }
    }

    static String get(String url) {
        try {
            HttpsURLConnection connection = (HttpsURLConnection) new URL(url).openConnection();
            connection.setConnectTimeout(15000);
            connection.setReadTimeout(15000);
            int status = connection.getResponseCode();
            try (InputStream body = connection.getInputStream()) {
                body.readAllBytes();
            }
            return (status == 200 ? "ACCEPTED" : "REFUSED") + "\t" + url + "\tHTTP " + status;
        } catch (SSLException e) {
            return (causedByCertificateCheck(e) ? "UNTRUSTED-SERVER" : "REFUSED") + "\t" + url
                    + "\t" + describe(e);
        } catch (IOException e) {
            // A TLS 1.3 server refusing our certificate resets the connection after our handshake.
            return "REFUSED\t" + url + "\t" + describe(e);
        } catch (RuntimeException e) {
            // The default SSL context failed to build: a key store or trust store did not load.
            return "ERROR\t" + url + "\t" + describe(e);
        }
    }

    static String load(String[] fields, String providerName) {
        String path = fields[1];
        char[] password = fields.length > 2 ? fields[2].toCharArray() : null;
        try (InputStream in = Files.newInputStream(Path.of(path))) {
            KeyStore store = providerName == null
                    ? KeyStore.getInstance(fields[0])
                    : KeyStore.getInstance(fields[0], providerName);
            store.load(in, password);
            List<String> trusted = new ArrayList<>();
            List<String> keys = new ArrayList<>();
            for (String alias : Collections.list(store.aliases())) {
                if (store.isKeyEntry(alias)) {
                    Certificate[] chain = store.getCertificateChain(alias);
                    Key key = password == null ? null : store.getKey(alias, password);
                    keys.add(alias + ":" + (chain == null ? 0 : chain.length) + ":"
                            + (key == null ? "none" : key.getAlgorithm()));
                } else if (store.isCertificateEntry(alias)) {
                    trusted.add(sha256(store.getCertificate(alias)));
                }
            }
            Collections.sort(trusted);
            Collections.sort(keys);
            return "LOADED\t" + path + "\ttrusted=" + String.join(",", trusted)
                    + "\tkeys=" + String.join(",", keys);
        } catch (Exception e) {
            return "FAILED\t" + path + "\t" + describe(e);
        }
    }

    static String sha256(Certificate certificate) throws Exception {
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded());
        StringBuilder hex = new StringBuilder();
        for (byte b : digest) {
            hex.append(String.format("%02x", b));
        }
        return hex.toString();
    }

    static boolean causedByCertificateCheck(Throwable e) {
        for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
            if (t instanceof java.security.cert.CertificateException
                    || t instanceof java.security.cert.CertPathValidatorException
                    || t instanceof java.security.cert.CertPathBuilderException) {
                return true;
            }
        }
        return false;
    }

    static String describe(Throwable e) {
        String text = e.getClass().getName() + ": " + e.getMessage();
        return text.replaceAll("[\\r\\n\\t]+", " ").strip();
    }
}
