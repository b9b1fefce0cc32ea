package org.elasticsearch.node;

import java.util.Collection;

import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.ClasspathPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

/**
 * A Node whose plugins are classpath classes. In this package because Node(NodeConstruction),
 * NodeConstruction.prepareConstruction and NodeServiceProvider.newPluginService are
 * package-private. Part of registry.search.engine.es (the test node), not of Elasticsearch.
 */
public class ClasspathNode extends Node {

    public ClasspathNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
        super(NodeConstruction.prepareConstruction(environment, null, new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment env, PluginsLoader loader) {
                return new ClasspathPluginsService(env, plugins);
            }
        }, true));
    }
}
