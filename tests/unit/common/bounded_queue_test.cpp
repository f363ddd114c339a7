// BoundedQueue and JoinOnExit: the pipelines of import and check --deep rely
// on close() releasing a producer that waits on a full queue, so that a
// failed consumer never leaves the producer, and the joins, waiting for ever.
#include "common/bounded_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace keydir {
namespace {

TEST(BoundedQueue, PopsInOrderThenNulloptOnceClosedAndDrained) {
  BoundedQueue<int> q(4);
  EXPECT_TRUE(q.push(1));
  EXPECT_TRUE(q.push(2));
  q.close();
  EXPECT_FALSE(q.push(3)) << "a closed queue takes no more";
  EXPECT_EQ(q.pop(), 1);
  EXPECT_EQ(q.pop(), 2);
  EXPECT_EQ(q.pop(), std::nullopt);
}

TEST(BoundedQueue, CloseReleasesAProducerWaitingOnAFullQueue) {
  BoundedQueue<int> q(1);
  ASSERT_TRUE(q.push(1));
  std::atomic<int> result{-1};
  std::thread producer([&] { result = q.push(2) ? 1 : 0; });
  // Most likely waiting by now; if not, push still answers false, and the
  // join below still shows nothing waits for ever.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  q.close();
  producer.join();
  EXPECT_EQ(result, 0);
}

TEST(BoundedQueue, ACapacityOfZeroStillMovesItems) {
  BoundedQueue<int> q(0);
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) {
      q.push(i);
    }
    q.close();
  });
  int n = 0;
  while (auto v = q.pop()) {
    EXPECT_EQ(*v, n++);
  }
  producer.join();
  EXPECT_EQ(n, 100);
}

TEST(JoinOnExit, AnExceptionOnTheWayOutClosesTheQueueAndJoins) {
  BoundedQueue<int> q(2);
  std::atomic<int> popped{0};
  auto run = [&] {
    std::vector<std::thread> workers;
    JoinOnExit join(workers, [&] { q.close(); });
    for (int t = 0; t < 3; ++t) {
      workers.emplace_back([&] {
        while (q.pop()) {
          ++popped;
        }
      });
    }
    q.push(1);
    throw std::runtime_error("the producer fails");
  };
  EXPECT_THROW(run(), std::runtime_error);
  EXPECT_EQ(popped, 1) << "what was queued is still popped";
}

}  // namespace
}  // namespace keydir
