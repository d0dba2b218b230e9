package com.jiffoo.backup.bench;

import java.lang.management.ManagementFactory;
import java.util.Collection;
import java.util.List;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

/**
 * A JMH profiler that divides each iteration's operations by the CPU time the benchmark's JVM used in it (all its
 * threads: the benchmark's, the JIT's and the GC's), giving operations per CPU second next to JMH's operations per
 * wall second. On a machine shared with other work the wall-clock score falls with the load; the CPU-time score
 * much less. Single-threaded benchmarks only (a second busy thread would halve it).
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar org.openjdk.jmh.Main CryptoMicro -prof com.jiffoo.backup.bench.CpuTimeProfiler
 * </pre>
 */
public final class CpuTimeProfiler implements InternalProfiler {
    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    private long cpuAtStart;

    @Override
    public String getDescription() {
        return "operations per second of the JVM's CPU time";
    }

    @Override
    public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
        cpuAtStart = OS.getProcessCpuTime();
    }

    @Override
    public Collection<? extends Result> afterIteration(
            BenchmarkParams benchmarkParams, IterationParams iterationParams, IterationResult result) {
        double cpuSeconds = (OS.getProcessCpuTime() - cpuAtStart) / 1e9;
        double ops = result.getMetadata().getMeasuredOps();
        return List.of(new ScalarResult(
                "ops/cpu-s", cpuSeconds > 0 ? ops / cpuSeconds : Double.NaN, "ops/cpu-s", AggregationPolicy.AVG));
    }
}
