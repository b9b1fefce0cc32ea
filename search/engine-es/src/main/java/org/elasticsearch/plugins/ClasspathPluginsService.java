package org.elasticsearch.plugins;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;

import org.elasticsearch.Build;
import org.elasticsearch.action.admin.cluster.node.info.PluginsAndModules;
import org.elasticsearch.env.Environment;

/**
 * A PluginsService whose plugins are classes on the JVM's classpath (no modules/ or plugins/
 * directories, no per-plugin class loaders). In this package because PluginsLoader's constructor,
 * LoadedPlugin and loadPlugin/loadExtensions are package-private. Part of
 * registry.search.engine.es (the test node), not of Elasticsearch.
 */
public final class ClasspathPluginsService extends PluginsService {

    private final List<LoadedPlugin> loaded;

    public ClasspathPluginsService(Environment environment, Collection<Class<? extends Plugin>> classes) {
        super(environment.settings(), environment.configDir(),
            new PluginsLoader(Collections.emptySet(), Collections.emptySet(), Collections.emptyMap()));
        List<LoadedPlugin> plugins = new ArrayList<>();
        for (Class<? extends Plugin> pluginClass : classes) {
            Plugin plugin = loadPlugin(pluginClass, environment.settings(), environment.configDir());
            PluginDescriptor descriptor = new PluginDescriptor(
                pluginClass.getName(), "classpath plugin", "NA", Build.current().version(),
                Integer.toString(Runtime.version().feature()), pluginClass.getName(), null,
                List.of(), false, false, false, false);
            plugins.add(new LoadedPlugin(descriptor, plugin, ClasspathPluginsService.class.getClassLoader()));
        }
        loadExtensions(plugins);
        this.loaded = List.copyOf(plugins);
    }

    @Override
    protected List<LoadedPlugin> plugins() {
        return loaded;
    }

    @Override
    public PluginsAndModules info() {
        return new PluginsAndModules(
            loaded.stream().map(LoadedPlugin::descriptor).map(PluginRuntimeInfo::new).toList(), List.of());
    }
}
