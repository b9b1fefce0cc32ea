package registry.search.engine.es;

import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntPredicate;
import java.util.function.Predicate;
import java.util.function.Supplier;

import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.ngram.NGramTokenizer;
import org.elasticsearch.Build;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.ClusterState;
import org.elasticsearch.cluster.metadata.IndexNameExpressionResolver;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.IndexScopedSettings;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.settings.SettingsFilter;
import org.elasticsearch.env.Environment;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.IndexVersion;
import org.elasticsearch.index.analysis.AbstractTokenizerFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestController;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;

/**
 * Stand-ins, written here, for the two bits of unpublished 8.x modules this project needs:
 *
 * <ul>
 *   <li>{@code GET /} (and {@code HEAD /}): the node/version document of the {@code rest-root}
 *       module, which clients such as elasticsearch-py's {@code info()} read;
 *   <li>the {@code ngram} tokenizer of {@code analysis-common} ({@code min_gram}, {@code max_gram},
 *       {@code token_chars} of letter/digit/whitespace/punctuation/symbol; checked against
 *       {@code index.max_ngram_diff} like the original).
 * </ul>
 */
public final class RegistryTestPlugin extends Plugin implements ActionPlugin, AnalysisPlugin {

    private volatile ClusterService clusterService;

    @Override
    public Collection<?> createComponents(PluginServices services) {
        clusterService = services.clusterService();
        return List.of();
    }

    @Override
    public Collection<RestHandler> getRestHandlers(
        Settings settings,
        NamedWriteableRegistry namedWriteableRegistry,
        RestController restController,
        ClusterSettings clusterSettings,
        IndexScopedSettings indexScopedSettings,
        SettingsFilter settingsFilter,
        IndexNameExpressionResolver indexNameExpressionResolver,
        Supplier<DiscoveryNodes> nodesInCluster,
        Predicate<NodeFeature> clusterSupportsFeature
    ) {
        return List.of(new RootHandler());
    }

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        return Map.of("ngram", NGramTokenizerFactory::new);
    }

    final class RootHandler extends BaseRestHandler {
        @Override
        public String getName() {
            return "registry_test_main_action";
        }

        @Override
        public List<Route> routes() {
            return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
        }

        @Override
        protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
            return channel -> {
                if (request.method() == RestRequest.Method.HEAD) {
                    channel.sendResponse(new RestResponse(RestStatus.OK, ""));
                    return;
                }
                ClusterState state = clusterService.state();
                Build build = Build.current();
                XContentBuilder b = channel.newBuilder();
                b.startObject();
                b.field("name", clusterService.getNodeName());
                b.field("cluster_name", state.getClusterName().value());
                b.field("cluster_uuid", state.metadata().clusterUUID());
                b.startObject("version");
                b.field("number", build.version());
                b.field("build_flavor", build.flavor());
                b.field("build_type", build.type().displayName());
                b.field("build_hash", build.hash());
                b.field("build_date", build.date());
                b.field("build_snapshot", build.isSnapshot());
                b.field("lucene_version", IndexVersion.current().luceneVersion().toString());
                b.field("minimum_wire_compatibility_version", build.minWireCompatVersion());
                b.field("minimum_index_compatibility_version", build.minIndexCompatVersion());
                b.endObject();
                b.field("tagline", "You Know, for Search");
                b.endObject();
                channel.sendResponse(new RestResponse(RestStatus.OK, b));
            };
        }
    }

    static final class NGramTokenizerFactory extends AbstractTokenizerFactory {
        private final int minGram;
        private final int maxGram;
        private final IntPredicate tokenChar;

        NGramTokenizerFactory(IndexSettings indexSettings, Environment environment, String name, Settings settings) {
            super(indexSettings, settings, name);
            minGram = settings.getAsInt("min_gram", NGramTokenizer.DEFAULT_MIN_NGRAM_SIZE);
            maxGram = settings.getAsInt("max_gram", NGramTokenizer.DEFAULT_MAX_NGRAM_SIZE);
            int maxDiff = indexSettings.getMaxNgramDiff();
            if (maxGram - minGram > maxDiff) {
                throw new IllegalArgumentException("The difference between max_gram and min_gram in NGram Tokenizer must be less"
                    + " than or equal to: [" + maxDiff + "] but was [" + (maxGram - minGram) + "]. This limit can be set by"
                    + " changing the [" + IndexSettings.MAX_NGRAM_DIFF_SETTING.getKey() + "] index level setting.");
            }
            IntPredicate matcher = null;
            for (String kind : settings.getAsList("token_chars")) {
                IntPredicate one = switch (kind.toLowerCase(Locale.ROOT)) {
                    case "letter" -> Character::isLetter;
                    case "digit" -> Character::isDigit;
                    case "whitespace" -> Character::isWhitespace;
                    case "punctuation" -> c -> switch (Character.getType(c)) {
                        case Character.START_PUNCTUATION, Character.END_PUNCTUATION, Character.OTHER_PUNCTUATION,
                            Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION,
                            Character.FINAL_QUOTE_PUNCTUATION -> true;
                        default -> false;
                    };
                    case "symbol" -> c -> switch (Character.getType(c)) {
                        case Character.MATH_SYMBOL, Character.CURRENCY_SYMBOL, Character.MODIFIER_SYMBOL,
                            Character.OTHER_SYMBOL -> true;
                        default -> false;
                    };
                    default -> throw new IllegalArgumentException("Unknown token type: '" + kind
                        + "', must be one of [letter, digit, whitespace, punctuation, symbol] in this test node");
                };
                matcher = matcher == null ? one : matcher.or(one);
            }
            tokenChar = matcher;
        }

        @Override
        public Tokenizer create() {
            if (tokenChar == null) {
                return new NGramTokenizer(minGram, maxGram);
            }
            IntPredicate accept = tokenChar;
            return new NGramTokenizer(minGram, maxGram) {
                @Override
                protected boolean isTokenChar(int chr) {
                    return accept.test(chr);
                }
            };
        }
    }
}
