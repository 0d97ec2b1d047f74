/*
 * A stand-in for Apache Jena Fuseki in kg's tests: Jena's own SPARQL engine (ARQ) over an in-memory
 * TDB2 dataset with the union default graph on, behind Fuseki's URL layout, on 127.0.0.1. It runs
 * on the Jena library that Debian packages (libapache-jena-java); Fuseki itself is not packaged
 * there. It checks that kg's queries and updates are standard SPARQL that Jena answers as Oxigraph
 * does; Fuseki's own HTTP layer (servlets, content negotiation, errors) is not what it tests.
 *
 *   /ds/query, /ds/sparql  SPARQL query: GET ?query=, POST form or application/sparql-query;
 *                          default-graph-uri and named-graph-uri; results as SPARQL JSON, graphs
 *                          as N-Triples
 *   /ds/update             SPARQL Update: POST form or application/sparql-update, one transaction
 *   /ds/data, /ds          Graph Store Protocol, read: GET ?graph= (404 when absent) or ?default;
 *                          with neither, the whole dataset as N-Quads (Fuseki's quads operation)
 *
 * usage: java -cp JENA_JARS:. ArqServer PORT [--no-union] [--load FILE.nq] [--config FILE.ttl]
 *   --no-union: as Fuseki without tdb2:unionDefaultGraph, the default graph is a graph of its own
 *   --load: the dataset starts with the quads of the file (as Fuseki's --file, or tdb2.tdbloader)
 *   --config: the dataset is the TDB2 dataset that a Fuseki configuration file describes, built by
 *             Jena's assembler as Fuseki builds it (its service part is left to Fuseki)
 */

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import org.apache.jena.graph.Node;
import org.apache.jena.graph.NodeFactory;
import org.apache.jena.query.Dataset;
import org.apache.jena.query.DatasetFactory;
import org.apache.jena.query.Query;
import org.apache.jena.query.QueryExecution;
import org.apache.jena.query.QueryExecutionFactory;
import org.apache.jena.query.QueryFactory;
import org.apache.jena.query.ResultSetFormatter;
import org.apache.jena.riot.Lang;
import org.apache.jena.riot.RDFDataMgr;
import org.apache.jena.shared.JenaException;
import org.apache.jena.sparql.core.DatasetGraph;
import org.apache.jena.sparql.core.DynamicDatasets;
import org.apache.jena.sparql.core.assembler.AssemblerUtils;
import org.apache.jena.sys.JenaSystem;
import org.apache.jena.system.Txn;
import org.apache.jena.tdb2.DatabaseMgr;
import org.apache.jena.tdb2.TDB2;
import org.apache.jena.tdb2.assembler.VocabTDB2;
import org.apache.jena.update.UpdateAction;

public final class ArqServer {
    private static DatasetGraph DATA;

    private ArqServer() {}

    public static void main(String[] args) throws IOException {
        JenaSystem.init();  // before any vocabulary class: their initialisation needs Jena's
        List<String> options = List.of(args).subList(1, args.length);
        int config = options.indexOf("--config");
        if (config >= 0) {
            DATA = ((Dataset) AssemblerUtils.build(options.get(config + 1), VocabTDB2.tDatasetTDB)).asDatasetGraph();
        } else {
            DATA = DatabaseMgr.createDatasetGraph();
            DATA.getContext().set(TDB2.symUnionDefaultGraph, !options.contains("--no-union"));  // tdb2:unionDefaultGraph
        }
        int load = options.indexOf("--load");
        if (load >= 0) {
            Txn.executeWrite(DATA, () -> RDFDataMgr.read(DATA, options.get(load + 1)));
        }
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[0])), 0);
        server.createContext("/ds/query", ArqServer::query);
        server.createContext("/ds/sparql", ArqServer::query);
        server.createContext("/ds/update", ArqServer::update);
        server.createContext("/ds/data", ArqServer::graphStore);
        server.createContext("/ds", ArqServer::graphStore);
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.start();
        System.out.println("ready");
    }

    /** The request's parameters: the query string's and, for a form, the body's. */
    private static Map<String, List<String>> params(HttpExchange ex, String body) {
        Map<String, List<String>> found = new HashMap<>();
        List<String> parts = new ArrayList<>();
        if (ex.getRequestURI().getRawQuery() != null) {
            parts.add(ex.getRequestURI().getRawQuery());
        }
        if (body != null) {
            parts.add(body);
        }
        for (String part : parts) {
            for (String pair : part.split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                found.computeIfAbsent(key, k -> new ArrayList<>()).add(value);
            }
        }
        return found;
    }

    private static String first(Map<String, List<String>> params, String key) {
        List<String> values = params.get(key);
        return values == null ? null : values.get(0);
    }

    private static String contentType(HttpExchange ex) {
        String type = ex.getRequestHeaders().getFirst("Content-Type");
        return type == null ? "" : type.split(";")[0].trim();
    }

    private static String body(HttpExchange ex) throws IOException {
        return new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
    }

    private static void send(HttpExchange ex, int status, String type, byte[] bytes) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static void error(HttpExchange ex, int status, String message) throws IOException {
        send(ex, status, "text/plain; charset=utf-8", (message + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static List<Node> iris(List<String> values) {
        List<Node> nodes = new ArrayList<>();
        if (values != null) {
            for (String v : values) {
                nodes.add(NodeFactory.createURI(v));
            }
        }
        return nodes;
    }

    private static void query(HttpExchange ex) throws IOException {
        try (ex) {
            String type = contentType(ex);
            String raw = ex.getRequestMethod().equals("POST") ? body(ex) : null;
            boolean direct = type.equals("application/sparql-query");
            Map<String, List<String>> params = params(ex, direct ? null : raw);
            String text = direct ? raw : first(params, "query");
            if (text == null) {
                error(ex, 400, "no query");
                return;
            }
            Query query;
            try {
                query = QueryFactory.create(text);
            } catch (JenaException e) {
                error(ex, 400, "Parse error: " + e.getMessage());
                return;
            }
            List<Node> defaults = iris(params.get("default-graph-uri"));
            List<Node> named = iris(params.get("named-graph-uri"));
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            String[] mediaType = new String[1];
            Txn.executeRead(DATA, () -> {
                DatasetGraph dsg = defaults.isEmpty() && named.isEmpty()
                        ? DATA : DynamicDatasets.dynamicDataset(defaults, named, DATA, false);
                Dataset dataset = DatasetFactory.wrap(dsg);
                try (QueryExecution exec = QueryExecutionFactory.create(query, dataset)) {
                    if (query.isSelectType()) {
                        ResultSetFormatter.outputAsJSON(out, exec.execSelect());
                        mediaType[0] = "application/sparql-results+json";
                    } else if (query.isAskType()) {
                        ResultSetFormatter.outputAsJSON(out, exec.execAsk());
                        mediaType[0] = "application/sparql-results+json";
                    } else {
                        RDFDataMgr.write(out, query.isConstructType() ? exec.execConstruct() : exec.execDescribe(),
                                Lang.NTRIPLES);
                        mediaType[0] = "application/n-triples";
                    }
                }
            });
            send(ex, 200, mediaType[0] + "; charset=utf-8", out.toByteArray());
        } catch (RuntimeException e) {
            error(ex, 500, e.toString());
        }
    }

    private static void update(HttpExchange ex) throws IOException {
        try (ex) {
            if (!ex.getRequestMethod().equals("POST")) {
                error(ex, 405, "use POST");
                return;
            }
            String type = contentType(ex);
            String raw = body(ex);
            String text = type.equals("application/sparql-update") ? raw : first(params(ex, raw), "update");
            if (text == null) {
                error(ex, 400, "no update");
                return;
            }
            try {
                Txn.executeWrite(DATA, () -> UpdateAction.parseExecute(text, DATA));
            } catch (JenaException e) {
                error(ex, 400, "Update error: " + e.getMessage());
                return;
            }
            send(ex, 204, "text/plain", new byte[0]);
        } catch (RuntimeException e) {
            error(ex, 500, e.toString());
        }
    }

    private static void graphStore(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            if (!path.equals("/ds") && !path.equals("/ds/data")) {
                error(ex, 404, "no such endpoint");
                return;
            }
            if (!ex.getRequestMethod().equals("GET")) {
                error(ex, 405, "this stand-in only reads the Graph Store Protocol");
                return;
            }
            Map<String, List<String>> params = params(ex, null);
            String graph = first(params, "graph");
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int[] status = {200};
            Txn.executeRead(DATA, () -> {
                if (graph != null) {
                    Node name = NodeFactory.createURI(graph);
                    if (!DATA.containsGraph(name) || DATA.getGraph(name).isEmpty()) {
                        status[0] = 404;
                    } else {
                        RDFDataMgr.write(out, DATA.getGraph(name), Lang.NTRIPLES);
                    }
                } else if (params.containsKey("default")) {
                    RDFDataMgr.write(out, DATA.getDefaultGraph(), Lang.NTRIPLES);
                } else {
                    RDFDataMgr.write(out, DATA, Lang.NQUADS);
                }
            });
            if (status[0] == 404) {
                error(ex, 404, "no such graph");
            } else {
                send(ex, 200, (graph != null || params.containsKey("default")
                        ? "application/n-triples" : "application/n-quads") + "; charset=utf-8", out.toByteArray());
            }
        } catch (RuntimeException e) {
            error(ex, 500, e.toString());
        }
    }
}
