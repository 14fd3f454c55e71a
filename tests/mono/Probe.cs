// The consumer matrix's Mono probe (the stand-in for .NET on Windows): one process, many requests
// read from stdin, one a line (fields separated by tabs; passwords come on stdin only):
//
//   pfx TAB FILE TAB PASSWORD     new X509Certificate2(file, password) and
//                                 X509Certificate2Collection.Import: OK TAB FILE TAB
//                                 key=<HasPrivateKey> TAB leaf=<sha256> TAB collection=<count>
//   pfxall TAB FILE TAB PASSWORD  every certificate and key of a PFX, as Mono.Security's PKCS12
//                                 (which Mono's X509Certificate2 reads PFX files with) holds
//                                 them: OK TAB FILE TAB certs=<sha256,...> (sorted) TAB
//                                 keys=<count> TAB keyleaf=<the key is X509Certificate2's leaf's>
//   cert TAB FILE                 new X509Certificate2(file), DER or PEM:
//                                 OK TAB FILE TAB cert=<sha256> TAB selfsigned=<bool>
//   p7b TAB FILE                  X509Certificate2Collection.Import of a PKCS#7:
//                                 OK TAB FILE TAB certs=<sha256,...>
//   tls TAB HOST:PORT TAB PEM TAB PFX TAB PASSWORD
//                                 SslStream client presenting the PFX's certificate, trusting
//                                 the server only if its chain ends in a certificate of the
//                                 PEM bundle (each block decoded into an X509Certificate2):
//                                 OK TAB HOST:PORT TAB <reply status line>
//
// A failure is FAIL TAB FILE-OR-ADDRESS TAB <exception>.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

public static class Probe
{
    static string Sha256(X509Certificate2 certificate)
    {
        using (var sha = SHA256.Create())
        {
            return BitConverter.ToString(sha.ComputeHash(certificate.RawData)).Replace("-", "").ToLowerInvariant();
        }
    }

    static X509Certificate2Collection Import(string file, string password)
    {
        var collection = new X509Certificate2Collection();
        collection.Import(file, password, X509KeyStorageFlags.Exportable);
        return collection;
    }

    static string Pfx(string[] fields)
    {
        var certificate = new X509Certificate2(fields[1], fields[2], X509KeyStorageFlags.Exportable);
        var collection = Import(fields[1], fields[2]);
        return "key=" + certificate.HasPrivateKey + "\tleaf=" + Sha256(certificate)
            + "\tcollection=" + collection.Count;
    }

    static string PfxAll(string[] fields)
    {
        var pfx = new Mono.Security.X509.PKCS12(File.ReadAllBytes(fields[1]), fields[2]);
        var all = pfx.Certificates.Cast<Mono.Security.X509.X509Certificate>()
            .Select(c => Sha256(new X509Certificate2(c.RawData))).OrderBy(h => h, StringComparer.Ordinal);
        var leaf = new X509Certificate2(fields[1], fields[2], X509KeyStorageFlags.Exportable);
        var leafModulus = ((RSA)leaf.PublicKey.Key).ExportParameters(false).Modulus;
        var keyLeaf = pfx.Keys.Count == 1 && pfx.Keys[0] is RSA
            && ((RSA)pfx.Keys[0]).ExportParameters(false).Modulus.SequenceEqual(leafModulus);
        return "certs=" + string.Join(",", all) + "\tkeys=" + pfx.Keys.Count + "\tkeyleaf=" + keyLeaf;
    }

    static string Cert(string[] fields)
    {
        var certificate = new X509Certificate2(fields[1]);
        return "cert=" + Sha256(certificate) + "\tselfsigned=" + (certificate.SubjectName.RawData
            .SequenceEqual(certificate.IssuerName.RawData));
    }

    static string P7b(string[] fields)
    {
        var collection = new X509Certificate2Collection();
        collection.Import(fields[1]);
        var hashes = collection.Cast<X509Certificate2>().Select(Sha256).OrderBy(h => h, StringComparer.Ordinal);
        return "certs=" + string.Join(",", hashes);
    }

    static string Tls(string[] fields)
    {
        var parts = fields[1].Split(':');
        var anchors = new X509Certificate2Collection();
        foreach (var block in File.ReadAllText(fields[2]).Split(new[] { "-----BEGIN CERTIFICATE-----" }, StringSplitOptions.None).Skip(1))
        {
            var body = block.Substring(0, block.IndexOf("-----END CERTIFICATE-----", StringComparison.Ordinal));
            anchors.Add(new X509Certificate2(Convert.FromBase64String(body)));
        }
        var client = new X509Certificate2(fields[3], fields[4], X509KeyStorageFlags.Exportable);
        RemoteCertificateValidationCallback validate = (sender, certificate, chain, errors) =>
        {
            if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0 || certificate == null)
            {
                return false;
            }
            var ours = new X509Chain();
            ours.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            ours.ChainPolicy.VerificationFlags = X509VerificationFlags.AllowUnknownCertificateAuthority;
            ours.ChainPolicy.ExtraStore.AddRange(anchors);
            if (!ours.Build(new X509Certificate2(certificate)))
            {
                return false;
            }
            var root = ours.ChainElements[ours.ChainElements.Count - 1].Certificate;
            return anchors.Cast<X509Certificate2>().Any(a => a.Thumbprint == root.Thumbprint);
        };
        using (var tcp = new TcpClient(parts[0], int.Parse(parts[1])))
        using (var tls = new SslStream(tcp.GetStream(), false, validate))
        {
            tcp.ReceiveTimeout = 15000;
            tls.AuthenticateAsClient("localhost", new X509CertificateCollection { client },
                SslProtocols.Tls12, false);
            var request = Encoding.ASCII.GetBytes("GET / HTTP/1.0\r\n\r\n");
            tls.Write(request, 0, request.Length);
            var buffer = new byte[64];
            int read = tls.Read(buffer, 0, buffer.Length);
            var reply = Encoding.ASCII.GetString(buffer, 0, Math.Max(read, 0)).Split('\r')[0];
            if (!reply.StartsWith("HTTP/1.0 200"))
            {
                throw new IOException("no HTTP 200 reply: " + reply);
            }
            return reply;
        }
    }

    public static int Main()
    {
        string line;
        while ((line = Console.In.ReadLine()) != null)
        {
            if (line.Length == 0)
            {
                continue;
            }
            var fields = line.Split('\t');
            try
            {
                string detail;
                switch (fields[0])
                {
                    case "pfx": detail = Pfx(fields); break;
                    case "pfxall": detail = PfxAll(fields); break;
                    case "cert": detail = Cert(fields); break;
                    case "p7b": detail = P7b(fields); break;
                    case "tls": detail = Tls(fields); break;
                    default: Console.Error.WriteLine("bad request: " + fields[0]); return 2;
                }
                Console.WriteLine("OK\t" + fields[1] + "\t" + detail);
            }
            catch (Exception e)
            {
                var text = e.GetType().FullName + ": " + e.Message;
                for (var inner = e.InnerException; inner != null; inner = inner.InnerException)
                {
                    text += " <- " + inner.GetType().FullName + ": " + inner.Message;
                }
                Console.WriteLine("FAIL\t" + fields[1] + "\t" + text.Replace("\n", " ").Replace("\t", " "));
            }
        }
        return 0;
    }
}
