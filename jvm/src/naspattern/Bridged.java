package naspattern;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Set;

import py4j.Py4JException;

/**
 * Wraps the py4j proxy of an engine object (a controller, an agent, a child network) so that every
 * failure reaches the caller as one {@link NASException}: a refusal with the engine's one line, a
 * dead engine with its exit status and last words. What the methods return that is itself an engine
 * object is wrapped too, so no py4j type ever reaches user code.
 */
final class Bridged implements InvocationHandler {
    private static final Set<Class<?>> ENGINE_OBJECTS = Set.of(NASController.class, RLAgent.class, Network.class,
            ModelEngine.class);

    private final Class<?> type;
    private final Object target;
    private final NASGateway gateway;
    private volatile Integer hash; // the engine's hash, kept for after the gateway is closed

    private Bridged(Class<?> type, Object target, NASGateway gateway) {
        this.type = type;
        this.target = target;
        this.gateway = gateway;
    }

    static <T> T wrap(Class<T> type, T target, NASGateway gateway) {
        if (target == null) {
            return null;
        }
        Object proxy = Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, new Bridged(type, target, gateway));
        return type.cast(proxy);
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
        if (method.getDeclaringClass() == Object.class) {
            return objectMethod(proxy, method, args);
        }
        if (method.getName().equals("close") && method.getParameterCount() == 0) {
            return close(method, args);
        }
        Object result = call(method, args);
        if (ENGINE_OBJECTS.contains(method.getReturnType())) {
            return wrapUnchecked(method.getReturnType(), result, gateway);
        }
        return result;
    }

    /**
     * toString and hashCode come from the engine; its hash of an object is a serial number unique
     * in that engine, so two proxies are equal when they are of one gateway and hash alike. Once
     * the gateway is closed, toString says so and hashCode keeps the value it had (neither throws).
     */
    private Object objectMethod(Object proxy, Method method, Object[] args) throws Throwable {
        switch (method.getName()) {
            case "equals":
                Object other = args[0];
                if (other == proxy) {
                    return true;
                }
                if (other == null || !Proxy.isProxyClass(other.getClass())
                        || !(Proxy.getInvocationHandler(other) instanceof Bridged that) || that.gateway != gateway) {
                    return false;
                }
                return proxy.hashCode() == other.hashCode();
            case "hashCode":
                if (hash == null) {
                    hash = gateway.isClosed() ? System.identityHashCode(proxy) : (Integer) call(method, args);
                }
                return hash;
            case "toString":
                // never throws: loggers and debuggers call it on objects whose engine is gone
                if (gateway.isClosed()) {
                    return type.getSimpleName() + " (closed: its NASGateway is closed)";
                }
                try {
                    return call(method, args);
                } catch (NASException e) {
                    return type.getSimpleName() + " (unreachable: " + e.getMessage() + ")";
                }
            default:
                return method.invoke(target, args);
        }
    }

    /**
     * close() of an engine object. An engine that ended (its gateway closed, or its process exited)
     * released all it held, so there is nothing left to close: close() then returns quietly, as a
     * finally block or try-with-resources needs, instead of hiding the failure that ended the engine.
     */
    private Object close(Method method, Object[] args) {
        if (gateway.isClosed()) {
            return null;
        }
        try {
            return call(method, args);
        } catch (NASException e) {
            if (e.reason() == NASException.Reason.ENGINE_EXITED) {
                return null;
            }
            throw e;
        }
    }

    private Object call(Method method, Object[] args) {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof NASException nas) {
                throw nas;
            }
            if (cause instanceof Py4JException py4j) {
                throw gateway.failure(py4j);
            }
            if (cause instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new NASException(cause.toString(), cause);
        } catch (IllegalAccessException e) {
            throw new NASException("cannot call " + method.getName() + " on the engine: " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    private static <T> T wrapUnchecked(Class<T> type, Object result, NASGateway gateway) {
        return wrap(type, (T) result, gateway);
    }
}
