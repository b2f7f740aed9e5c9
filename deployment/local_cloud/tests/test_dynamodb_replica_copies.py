"""Replicas get their own copy of every item: no container of a replicated item is shared with the source
table's item (an in-place update in one Region must not show up in the other without a replicated write)."""

import unittest

from local_cloud.dynamodb_replicas import _wire


class ReplicaCopyTest(unittest.TestCase):
    def test_the_wire_form_shares_no_container_with_the_item(self):
        from moto.dynamodb.models.dynamo_type import Item

        attributes = {
            "pk": {"S": "USER#1"},
            "m": {"M": {"inner": {"M": {"x": {"S": "1"}}}, "list": {"L": [{"S": "a"}]}}},
            "l": {"L": [{"M": {"y": {"N": "2"}}}, {"SS": ["p", "q"]}]},
            "ss": {"SS": ["a", "b"]},
            "ns": {"NS": ["1", "2"]},
            "b": {"B": b"bytes"},
        }
        item = Item(hash_key={"S": "USER#1"}, range_key=None, attrs=attributes)
        before = item.to_json()["Attributes"]
        wire = _wire(item)
        self.assertEqual(wire, before)
        # Mutate every container of the copy; the item must not change.
        wire["m"]["M"]["inner"]["M"]["x"]["S"] = "changed"
        wire["m"]["M"]["list"]["L"].append({"S": "z"})
        wire["l"]["L"][0]["M"]["y"]["N"] = "9"
        wire["l"]["L"][1]["SS"].append("r")
        wire["ss"]["SS"].append("c")
        wire["ns"]["NS"].append("3")
        self.assertEqual(item.to_json()["Attributes"], before)


if __name__ == "__main__":
    unittest.main()
